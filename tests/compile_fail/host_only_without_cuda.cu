// Must compile: an nvcc translation unit built with SHARD_DISABLE_CUDA has the host backend
// only, and takes host-only callables, as a g++ one does (the device-callable rule applies
// where the CUDA backend is compiled in).
#include <shard/shard.hpp>

#include <functional>

struct host_only_positive {
  bool operator()(int x) const { return x > 0; }
};
struct host_only_add {
  int operator()(int a, int b) const { return a + b; }
};

long host_only_calls(const shard::vector<int>& v, shard::vector<int>& out) {
  static_assert(SHARD_HAS_CUDA == 0);
  long r = static_cast<long>(shard::count_if(v, host_only_positive{}));
  r += shard::reduce(v, 0, host_only_add{});
  r += static_cast<long>(shard::min_element(v, [](int a, int b) { return a < b; }).index);
  shard::transform(v, out, [](int x) { return 2 * x; });
  return r;
}
