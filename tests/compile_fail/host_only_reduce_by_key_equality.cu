// Must not compile: reduce_by_key over keys whose operator== cannot run on the device.
// cub::DeviceReduce::ReduceByKey's cuda::std::equal_to<> disables nvcc's check; shard compares
// keys with shard::equal_to<>, which keeps it.
#include <shard/reduce_by_key.hpp>

struct tag {
  int id;
};
bool operator==(const tag& a, const tag& b) { return a.id == b.id; }  // no __device__

std::size_t runs(const shard::vector<tag>& k, const shard::vector<long>& v, shard::vector<tag>& ko,
                 shard::vector<long>& vo) {
  return shard::reduce_by_key(k, v, ko, vo);
}
