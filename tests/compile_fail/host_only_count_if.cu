// Must not compile: count_if with a predicate that cannot run on the device. Without the
// device-callable rule the kernel compiled to an empty `ret;` and count_if returned garbage.
#include <shard/shard.hpp>

struct host_only_positive {
  bool operator()(int x) const { return x > 0; }  // no __device__
};

std::size_t count_positive(const shard::vector<int>& v) { return shard::count_if(v, host_only_positive{}); }
