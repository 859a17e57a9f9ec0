// One of two translation units that both include <shard/shard.hpp> and instantiate the same
// algorithms. On the cuda preset this one is compiled by g++ and the other by nvcc.
#include "odr.hpp"

#include <typeinfo>

int odr_sum_a(int n) {
  auto ctx = shard::context::host(3);
  shard::vector<int> v(ctx, static_cast<std::size_t>(n));
  shard::iota(v, 1);
  shard::transform(v, v, [] SHARD_HOST_DEVICE(int x) { return 2 * x; });
  return shard::reduce(v);
}

const char* odr_context_type_a() { return typeid(shard::context).name(); }
