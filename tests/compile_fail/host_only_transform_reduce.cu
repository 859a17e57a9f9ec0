// Must not compile: transform_reduce with a transformation that cannot run on the device.
#include <shard/shard.hpp>

struct host_only_square {
  long operator()(int x) const { return long(x) * x; }  // no __device__
};

long sum_of_squares(const shard::vector<int>& v) {
  return shard::transform_reduce(v, 0L, shard::plus<>{}, host_only_square{});
}
