#pragma once
/// @file backend/cuda/primitives/temp_storage.hpp
/// CUB's two-phase call (size query, then run) in one helper, so that each primitive is one
/// line: the temporary storage comes from the shard's stream-ordered pool and goes back to it
/// (stream-ordered, so it is free for reuse once the call's kernels have run).
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/error.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

template <class Call>
void with_temp_storage(device& d, const char* name, Call&& call) {
  device_guard g(d.ordinal());
  std::size_t bytes = 0;
  cudaError_t status = call(static_cast<void*>(nullptr), bytes);
  if (status != cudaSuccess) throw_cuda_error(status, name, d.shard(), d.ordinal());
  // At least one byte (a valid pointer for CUB), given back with the size it was taken with
  // (an application's allocator sees matching sizes).
  const std::size_t size = bytes == 0 ? 1 : bytes;
  void* temp = d.allocate(size);
  status = call(temp, bytes);
  d.deallocate(temp, size);
  if (status != cudaSuccess) throw_cuda_error(status, name, d.shard(), d.ordinal());
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
