// Must not compile: shard::plus<> over a user type whose operator+ cannot run on the device
// (the transparent function objects are __host__ __device__ templates: without the rule the
// device side of the call silently vanished).
#include <shard/shard.hpp>

struct money {
  long cents;
};
money operator+(money a, money b) { return {a.cents + b.cents}; }  // host_only: no __device__

money total(const shard::vector<money>& v) { return shard::reduce(v, money{0}, shard::plus<>{}); }
