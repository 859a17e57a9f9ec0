// Must not compile: transform with a plain (host) lambda, which CUB calls from its kernel.
#include <shard/shard.hpp>

void twice(const shard::vector<int>& in, shard::vector<int>& out) {
  auto host_only_lambda = [](int x) { return 2 * x; };  // not SHARD_HOST_DEVICE
  shard::transform(in, out, host_only_lambda);
}
