// Must not compile: reduce_by_key with a reduction operator that cannot run on the device.
// CUB calls the operator from a __host__ __device__ function in a system header, where nvcc
// only warns; shard wraps it so the call is checked.
#include <shard/reduce_by_key.hpp>

struct host_only_max {
  long operator()(long a, long b) const { return a > b ? a : b; }  // no __device__
};

std::size_t runs(const shard::vector<int>& k, const shard::vector<long>& v, shard::vector<int>& ko,
                 shard::vector<long>& vo) {
  return shard::reduce_by_key(k, v, ko, vo, host_only_max{});
}
