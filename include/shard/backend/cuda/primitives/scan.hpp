#pragma once
/// @file backend/cuda/primitives/scan.hpp
/// The CUDA backend's "scan" family (detail/primitives/scan.hpp): cub::DeviceScan on the
/// shard's stream, the carry read from device memory when the scan runs (cub::FutureValue),
/// so the host never waits for it. An inclusive scan with a carry goes through CUB's dispatch
/// layer: DeviceScan::InclusiveScanInit takes its initial value by value only.
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/primitives/temp_storage.hpp>

#include <cub/device/device_scan.cuh>

#include <cstddef>
#include <cstdint>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

template <class T, class Op>
void inclusive_scan(device& d, const T* in, T* out, std::size_t n, Op op, const T* carry) {
  if (n == 0) return;
  if (carry == nullptr) {
    with_temp_storage(d, "cub::DeviceScan::InclusiveScan", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceScan::InclusiveScan(temp, bytes, in, out, op, static_cast<std::int64_t>(n), d.stream());
    });
    return;
  }
  using init_t = cub::detail::InputValue<T, const T*>;
  using dispatch =
      cub::DispatchScan<const T*, T*, Op, init_t, std::uint64_t, T, cub::ForceInclusive::Yes>;
  with_temp_storage(d, "cub::DispatchScan (inclusive, FutureValue carry)", [&](void* temp, std::size_t& bytes) {
    return dispatch::Dispatch(temp, bytes, in, out, op, init_t(cub::FutureValue<T, const T*>(carry)),
                              static_cast<std::uint64_t>(n), d.stream());
  });
}

template <class T, class Op>
void exclusive_scan(device& d, const T* in, T* out, std::size_t n, Op op, const T* init) {
  if (n == 0) return;
  with_temp_storage(d, "cub::DeviceScan::ExclusiveScan", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceScan::ExclusiveScan(temp, bytes, in, out, op, cub::FutureValue<T, const T*>(init),
                                          static_cast<std::int64_t>(n), d.stream());
  });
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
