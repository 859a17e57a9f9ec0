// Must not compile: min_element with a comparator that cannot run on the device.
#include <shard/shard.hpp>

struct host_only_by_magnitude {
  bool operator()(int a, int b) const { return (a < 0 ? -a : a) < (b < 0 ? -b : b); }  // no __device__
};

std::size_t smallest(const shard::vector<int>& v) { return shard::min_element(v, host_only_by_magnitude{}).index; }
