#pragma once
/// @file backend/cuda/primitives.hpp
/// The CUDA backend's per-shard primitives: one CUB device-wide call each, on the shard's
/// stream, temporary storage from the shard's pool, every status checked.
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>

#include <cub/device/device_for.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_transform.cuh>
#include <cuda/std/tuple>
#include <thrust/iterator/counting_iterator.h>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

/// CUB's two-phase call (size query, then run) with the temporary storage taken from and
/// returned to the shard's stream-ordered pool.
template <class Call>
void with_temp_storage(device& d, const char* name, Call&& call) {
  device_guard g(d.ordinal());
  std::size_t bytes = 0;
  d.check(call(static_cast<void*>(nullptr), bytes), name);
  void* temp = d.allocate(bytes == 0 ? 1 : bytes);
  const cudaError_t status = call(temp, bytes);
  d.deallocate(temp, bytes);
  d.check(status, name);
}

}  // namespace cuda_backend

namespace detail::primitive {

template <class In, class Out, class Op>
void transform(cuda_backend::device& d, const In* in, Out* out, std::size_t n, Op op) {
  cuda_backend::device_guard g(d.ordinal());
  d.check(cub::DeviceTransform::Transform(in, out, n, op, d.stream()), "cub::DeviceTransform::Transform");
}

template <class A, class B, class Out, class Op>
void transform(cuda_backend::device& d, const A* a, const B* b, Out* out, std::size_t n, Op op) {
  cuda_backend::device_guard g(d.ordinal());
  d.check(cub::DeviceTransform::Transform(::cuda::std::make_tuple(a, b), out, n, op, d.stream()),
          "cub::DeviceTransform::Transform");
}

template <class T, class F>
void for_each(cuda_backend::device& d, T* p, std::size_t n, F f) {
  cuda_backend::device_guard g(d.ordinal());
  d.check(cub::DeviceFor::ForEachN(p, n, f, d.stream()), "cub::DeviceFor::ForEachN");
}

template <class F>
void for_each_index(cuda_backend::device& d, std::size_t n, F f) {
  cuda_backend::device_guard g(d.ordinal());
  d.check(cub::DeviceFor::Bulk(n, f, d.stream()), "cub::DeviceFor::Bulk");
}

template <class T, class Op>
void reduce(cuda_backend::device& d, const T* in, std::size_t n, T* out, T init, Op op) {
  cuda_backend::with_temp_storage(d, "cub::DeviceReduce::Reduce", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceReduce::Reduce(temp, bytes, in, out, n, op, init, d.stream());
  });
}

template <class U, class Rop, class F>
void transform_reduce_index(cuda_backend::device& d, std::size_t n, U* out, U init, Rop rop, F f) {
  cuda_backend::with_temp_storage(d, "cub::DeviceReduce::TransformReduce", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceReduce::TransformReduce(temp, bytes, thrust::counting_iterator<std::size_t>(0), out, n, rop, f,
                                              init, d.stream());
  });
}

}  // namespace detail::primitive
SHARD_NAMESPACE_END
