#pragma once
/// @file backend/cuda/primitives/for_each.hpp
/// The CUDA backend's "for" family (primitive/for_each.hpp): cub::DeviceFor on the
/// shard's stream. A function object that cannot run on the device fails to compile in CUB's
/// kernel ("calling a __host__ function ... from a __device__ function is not allowed").
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/error.hpp>

#include <cub/device/device_for.cuh>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

template <class T, class F>
void for_each(device& d, T* p, std::size_t n, F f) {
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(cub::DeviceFor::ForEachN(p, n, f, d.stream()), d.shard(), d.ordinal());
}

template <class F>
void for_each_index(device& d, std::size_t n, F f) {
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(cub::DeviceFor::Bulk(n, f, d.stream()), d.shard(), d.ordinal());
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
