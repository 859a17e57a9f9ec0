// Must not compile: a __device__-only lambda. Every algorithm is also compiled for the host
// backend, where such a lambda would run garbage (nvcc does not diagnose that call).
#include <shard/shard.hpp>

void twice(const shard::vector<int>& in, shard::vector<int>& out) {
  shard::transform(in, out, [] __device__(int x) { return 2 * x; });
}
