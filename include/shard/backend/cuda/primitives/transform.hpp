#pragma once
/// @file backend/cuda/primitives/transform.hpp
/// The CUDA backend's "transform" family (primitive/transform.hpp):
/// cub::DeviceTransform on the shard's stream.
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/error.hpp>

#include <cub/device/device_transform.cuh>
#include <cuda/std/tuple>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

template <class In, class Out, class Op>
void transform(device& d, const In* in, Out* out, std::size_t n, Op op) {
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(cub::DeviceTransform::Transform(in, out, n, op, d.stream()), d.shard(), d.ordinal());
}

template <class A, class B, class Out, class Op>
void transform(device& d, const A* a, const B* b, Out* out, std::size_t n, Op op) {
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(cub::DeviceTransform::Transform(::cuda::std::make_tuple(a, b), out, n, op, d.stream()),
                          d.shard(), d.ordinal());
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
