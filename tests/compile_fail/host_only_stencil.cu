// Must not compile: a stencil step with a callable whose operator() is host-only, which the
// stencil's kernel calls for every element.
#include <shard/shard.hpp>

struct host_only_average {
  float operator()(const shard::window<float>& w) const { return 0.5f * (w[-1] + w[1]); }  // not SHARD_HOST_DEVICE
};

void step(const shard::vector<float>& in, shard::vector<float>& out) {
  shard::transform_window(in, out, 1, host_only_average{});
}
