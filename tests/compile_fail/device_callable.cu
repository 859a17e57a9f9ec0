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
