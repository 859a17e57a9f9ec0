#pragma once
/// @file backend/cuda/primitives/scan.hpp
/// The CUDA backend's "scan" family (primitive/scan.hpp): cub::DeviceScan on the
/// shard's stream, the carry read from device memory when the scan runs (cub::FutureValue),
/// so the host never waits for it. Scans from a carry go through CUB's dispatch layer with
/// InputValue<T, const T*>: DeviceScan::InclusiveScanInit takes its initial value by value
/// only, and CCCL 3.0's DeviceScan::ExclusiveScan rebuilds a FutureValue<T, const T*> as
/// InputValue<T, T*>, which converts it to T on the host, dereferencing the device pointer.
/// The accumulator is T on every path, as on the host backend.
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/primitives/temp_storage.hpp>

#include <cub/device/device_scan.cuh>

#include <cstddef>
#include <cstdint>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

namespace detail_scan {
/// The offset type CUB's public API picks for 64-bit counts.
using offset_t = cub::detail::choose_offset_t<std::int64_t>;
/// A value read from device memory when the scan runs.
template <class T>
using future_t = cub::detail::InputValue<T, const T*>;
}  // namespace detail_scan
using detail_scan::future_t;
using detail_scan::offset_t;

template <class T, class Op>
void inclusive_scan(device& d, const T* in, T* out, std::size_t n, Op op, const T* carry) {
  if (n == 0) return;
  if (carry == nullptr) {
    using dispatch = cub::DispatchScan<const T*, T*, Op, cub::NullType, offset_t, T>;
    with_temp_storage(d, "cub::DispatchScan (inclusive)", [&](void* temp, std::size_t& bytes) {
      return dispatch::Dispatch(temp, bytes, in, out, op, cub::NullType{}, static_cast<offset_t>(n), d.stream());
    });
    return;
  }
  using dispatch = cub::DispatchScan<const T*, T*, Op, future_t<T>, offset_t, T, cub::ForceInclusive::Yes>;
  with_temp_storage(d, "cub::DispatchScan (inclusive, FutureValue carry)", [&](void* temp, std::size_t& bytes) {
    return dispatch::Dispatch(temp, bytes, in, out, op, future_t<T>(cub::FutureValue<T, const T*>(carry)),
                              static_cast<offset_t>(n), d.stream());
  });
}

template <class T, class Op>
void exclusive_scan(device& d, const T* in, T* out, std::size_t n, Op op, const T* init) {
  if (n == 0) return;
  using dispatch = cub::DispatchScan<const T*, T*, Op, future_t<T>, offset_t, T>;
  with_temp_storage(d, "cub::DispatchScan (exclusive, FutureValue init)", [&](void* temp, std::size_t& bytes) {
    return dispatch::Dispatch(temp, bytes, in, out, op, future_t<T>(cub::FutureValue<T, const T*>(init)),
                              static_cast<offset_t>(n), d.stream());
  });
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
