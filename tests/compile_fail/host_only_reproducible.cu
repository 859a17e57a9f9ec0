// Must not compile: a reproducible transform_reduce with a transformation that cannot run on
// the device (the exact bins' deposit kernel calls it).
#include <shard/shard.hpp>

struct host_only_scale {
  double operator()(float x) const { return 3.0 * x; }  // no __device__
};

double scaled_sum(const shard::vector<float>& v) {
  return shard::transform_reduce(shard::reproducible, v, 0.0, shard::plus<>{}, host_only_scale{});
}
