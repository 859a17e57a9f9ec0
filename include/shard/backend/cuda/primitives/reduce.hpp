#pragma once
/// @file backend/cuda/primitives/reduce.hpp
/// The CUDA backend's "reduce" family (primitive/reduce.hpp): cub::DeviceReduce on the
/// shard's stream, temporary storage from the shard's pool. reduce_in_order is an inclusive
/// scan (CUB's scan supports non-commutative operators; its reduce does not) whose output
/// iterator keeps the last value only: a thrust::tabulate_output_iterator that stores the
/// element at index n - 1 and drops the rest, so no n-element buffer is written.
/// sum_exactly zeroes the bins and adds every value's deposits (core/exact_sum.hpp) with
/// 64-bit integer atomics through cub::DeviceFor::Bulk: integer additions in any order give
/// the same bins. Deposits of values of one magnitude meet on one bin's address (an L2
/// atomic unit serialises them); block-local bins in shared memory would spread them, once a
/// GPU measures the difference.
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/error.hpp>
#include <shard/backend/cuda/primitives/temp_storage.hpp>
#include <shard/core/exact_sum.hpp>

#include <cub/device/device_for.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/tabulate_output_iterator.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

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

namespace detail_reduce {
/// One value's deposits into the bins, by atomics. Calls the caller's function on the device:
/// a function that cannot run there fails to compile here.
template <class F>
struct exact_deposit_fn {
  F f;
  std::int64_t* bins;
  __device__ void operator()(std::size_t i) const {
    using U = std::decay_t<decltype(f(i))>;
    const auto d = ::shard::detail::exact_bins<U>::split(f(i));
    for (int k = 0; k < d.count; ++k)
      atomicAdd(reinterpret_cast<unsigned long long*>(bins + d.bin[k]), static_cast<unsigned long long>(d.value[k]));
  }
};

/// The tabulate_output_iterator's function: store(value) for the element at index `last`.
template <class Store>
struct store_last_fn {
  std::int64_t last;
  Store store;
  template <class Index, class T>
  __host__ __device__ void operator()(Index i, const T& value) const {
    if (static_cast<std::int64_t>(i) == last) store(value);
  }
};
}  // namespace detail_reduce

template <class F>
void sum_exactly(device& d, std::size_t n, F f, std::int64_t* out) {
  using U = std::decay_t<decltype(f(std::size_t{0}))>;
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(cudaMemsetAsync(out, 0, ::shard::detail::exact_bins<U>::count * sizeof(std::int64_t), d.stream()),
                          d.shard(), d.ordinal());
  if (n == 0) return;
  SHARD_DETAIL_CUDA_THROW(cub::DeviceFor::Bulk(n, detail_reduce::exact_deposit_fn<F>{f, out}, d.stream()), d.shard(),
                          d.ordinal());
}

template <class T, class Op, class Store>
void reduce_in_order(device& d, const T* in, std::size_t n, Op op, Store store) {
  if (n == 0) return;
  using offset_t = cub::detail::choose_offset_t<std::int64_t>;
  auto out = thrust::make_tabulate_output_iterator(
      detail_reduce::store_last_fn<Store>{static_cast<std::int64_t>(n - 1), store});
  using dispatch = cub::DispatchScan<const T*, decltype(out), Op, cub::NullType, offset_t, T>;
  with_temp_storage(d, "cub::DispatchScan (reduce_in_order)", [&](void* temp, std::size_t& bytes) {
    return dispatch::Dispatch(temp, bytes, in, out, op, cub::NullType{}, static_cast<offset_t>(n), d.stream());
  });
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
