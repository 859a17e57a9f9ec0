// A reproducible sum takes plus only: another operator must fail with a static_assert that
// says so (with SHARD_CONTROL the operator is plus, and this compiles).
#include <shard/reduce.hpp>

double product(const shard::vector<double>& v) {
#ifdef SHARD_CONTROL
  return shard::reduce(shard::reproducible, v, 1.0, std::plus<>{});
#else
  return shard::reduce(shard::reproducible, v, 1.0, shard::multiplies<>{});
#endif
}
