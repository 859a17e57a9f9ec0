#pragma once
/// @file backend/cuda/primitives/select.hpp
/// The CUDA backend's "select" family (primitive/select.hpp): cub::DeviceSelect::Flagged
/// with the flags computed on the fly (a transform iterator over the indices), and CUB's
/// reduce-by-key dispatch (DeviceReduce::ReduceByKey's) with shard::equal_to<> for the keys
/// and the operator wrapped in detail::value_op: both sit in the device-check region, so a
/// key type whose operator== or an operator that cannot run on the device is a compile error
/// (DeviceReduce::ReduceByKey's own cuda::std::equal_to<> disables that check).
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/primitives/temp_storage.hpp>
#include <shard/core/functors.hpp>
#include <shard/functional.hpp>

#include <cub/device/device_reduce.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <cstddef>
#include <cstdint>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

template <class T, class Flag>
void select_flagged(device& d, const T* in, std::size_t n, Flag flag, T* out, std::size_t* count) {
  const auto flags = thrust::make_transform_iterator(thrust::counting_iterator<std::size_t>(0), flag);
  with_temp_storage(d, "cub::DeviceSelect::Flagged", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceSelect::Flagged(temp, bytes, in, flags, out, count, static_cast<std::int64_t>(n), d.stream());
  });
}

template <class K, class V, class Op>
void reduce_by_key(device& d, const K* keys, const V* values, std::size_t n, K* keys_out, V* values_out,
                   std::size_t* count, Op op) {
  using offset_t = cub::detail::choose_offset_t<std::int64_t>;
  using equality = shard::equal_to<>;
  using reduction = shard::detail::value_op<V, Op>;
  using dispatch = cub::DispatchReduceByKey<const K*, K*, const V*, V*, std::size_t*, equality, reduction, offset_t>;
  with_temp_storage(d, "cub::DispatchReduceByKey", [&](void* temp, std::size_t& bytes) {
    return dispatch::Dispatch(temp, bytes, keys, keys_out, values, values_out, count, equality{}, reduction{op},
                              static_cast<offset_t>(n), d.stream());
  });
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
