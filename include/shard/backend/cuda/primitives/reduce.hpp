#pragma once
/// @file backend/cuda/primitives/reduce.hpp
/// The CUDA backend's "reduce" family (detail/primitives/reduce.hpp): cub::DeviceReduce on the
/// shard's stream, temporary storage from the shard's pool.
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/primitives/temp_storage.hpp>

#include <cub/device/device_reduce.cuh>
#include <thrust/iterator/counting_iterator.h>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

template <class T, class Op>
void reduce(device& d, const T* in, std::size_t n, T* out, T init, Op op) {
  with_temp_storage(d, "cub::DeviceReduce::Reduce", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceReduce::Reduce(temp, bytes, in, out, n, op, init, d.stream());
  });
}

template <class U, class Rop, class F>
void transform_reduce_index(device& d, std::size_t n, U* out, U init, Rop rop, F f) {
  with_temp_storage(d, "cub::DeviceReduce::TransformReduce", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceReduce::TransformReduce(temp, bytes, thrust::counting_iterator<std::size_t>(0), out, n, rop, f,
                                              init, d.stream());
  });
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
