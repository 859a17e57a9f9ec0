// Must not compile: copy_if with a predicate that cannot run on the device.
#include <shard/copy_if.hpp>

struct host_only_odd {
  bool operator()(int x) const { return x % 2 != 0; }  // no __device__
};

std::size_t odd(const shard::vector<int>& v, shard::vector<int>& out) { return shard::copy_if(v, out, host_only_odd{}); }
