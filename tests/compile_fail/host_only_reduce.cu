// Must not compile: reduce with an operator that cannot run on the device.
#include <shard/shard.hpp>

struct host_only_add {
  int operator()(int a, int b) const { return a + b; }  // no __device__
};

int sum(const shard::vector<int>& v) { return shard::reduce(v, 0, host_only_add{}); }
