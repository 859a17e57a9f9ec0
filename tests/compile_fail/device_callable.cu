// Must compile: the same calls as the compile-fail cases, with callables that run on both
// backends (SHARD_HOST_DEVICE), and with std:: function objects, which shard maps onto its own.
#include <shard/shard.hpp>

#include <functional>

struct positive {
  SHARD_HOST_DEVICE bool operator()(int x) const { return x > 0; }
};
struct money {
  long cents;
};
SHARD_HOST_DEVICE money operator+(money a, money b) { return {a.cents + b.cents}; }
struct item {
  int key;
  float weight;
};
struct by_key {
  SHARD_HOST_DEVICE bool operator()(const item& a, const item& b) const { return a.key < b.key; }
};
struct tag {
  int id;
};
SHARD_HOST_DEVICE bool operator==(const tag& a, const tag& b) { return a.id == b.id; }

long all_of_them(const shard::vector<int>& v, shard::vector<int>& out, const shard::vector<money>& m) {
  long r = static_cast<long>(shard::count_if(v, positive{}));
  r += shard::reduce(v, 0, std::plus<>{});
  r += shard::transform_reduce(v, 0L, std::plus<>{}, [] SHARD_HOST_DEVICE(int x) { return long(x) * x; });
  r += static_cast<long>(shard::min_element(v, std::greater<>{}).index);
  shard::transform(v, out, [] SHARD_HOST_DEVICE(int x) { return 2 * x; });
  shard::transform(v, out, out, std::multiplies<>{});
  r += shard::reduce(m, money{0}, shard::plus<>{}).cents;
  return r;
}

// The same for the scan, sort and compaction families.
std::size_t families(shard::vector<int>& v, shard::vector<item>& items, const shard::vector<tag>& tags,
                     const shard::vector<long>& values, shard::vector<tag>& tags_out, shard::vector<long>& values_out) {
  shard::inclusive_scan(v, v, std::plus<>{});
  shard::exclusive_scan(v, v, 0, shard::maximum<>{});
  shard::stable_sort(items, by_key{});
  std::size_t n = shard::copy_if(v, v, positive{});
  n += shard::reduce_by_key(tags, values, tags_out, values_out, [] SHARD_HOST_DEVICE(long a, long b) { return a + b; });
  return n + (shard::is_sorted(items, by_key{}) ? 1 : 0);
}
