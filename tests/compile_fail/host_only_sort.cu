// Must not compile: stable_sort with a comparator that cannot run on the device.
#include <shard/sort.hpp>

struct item {
  int key;
  float weight;
};
struct host_only_by_key {
  bool operator()(const item& a, const item& b) const { return a.key < b.key; }  // no __device__
};

void by_key(shard::vector<item>& v) { shard::stable_sort(v, host_only_by_key{}); }
