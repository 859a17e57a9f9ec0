// The second translation unit of the one-definition-rule test (see odr_a.cpp).
#include "odr.hpp"

#include <typeinfo>

int odr_sum_b(int n) {
  auto ctx = shard::context::host(5);
  shard::vector<int> v(ctx, static_cast<std::size_t>(n));
  shard::iota(v, 1);
  shard::transform(v, v, [] SHARD_HOST_DEVICE(int x) { return 3 * x; });
  return shard::reduce(v);
}

const char* odr_context_type_b() { return typeid(shard::context).name(); }
bool odr_b_has_cuda() { return SHARD_HAS_CUDA != 0; }
