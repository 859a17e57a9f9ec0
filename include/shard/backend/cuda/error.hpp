#pragma once
/// @file backend/cuda/error.hpp
/// Checking CUDA calls: throw on public paths, report-and-continue in destructors (the
/// first two of stdexec's three jobs; internal code that must clean up first uses
/// device::check after releasing what it holds).
#include <shard/config.hpp>
#include <shard/error.hpp>

#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

/// Throws shard::error (or out_of_memory) for a failed CUDA call, after clearing the
/// non-sticky error state so the next call does not see it.
[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, int shard, int device) {
  (void)cudaGetLastError();
  if (status == cudaErrorMemoryAllocation) {
    std::size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) (void)cudaGetLastError();
    throw out_of_memory(shard, device, 0, free_bytes, call);
  }
  throw error(std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status), shard, device, call);
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END

/// Throws shard::error naming the call, shard and device when `expr` fails.
#define SHARD_DETAIL_CUDA_THROW(expr, shard_index, device_ordinal)                                  \
  do {                                                                                \
    const cudaError_t shard_detail_status = (expr);                                   \
    if (shard_detail_status != cudaSuccess)                                           \
      ::shard::cuda_backend::throw_cuda_error(shard_detail_status, #expr, (shard_index), (device_ordinal)); \
  } while (0)

/// For destructors and other no-throw paths: clears the error and reports it on stderr.
#define SHARD_DETAIL_CUDA_ASSERT(expr)                                                      \
  do {                                                                                      \
    const cudaError_t shard_detail_status = (expr);                                         \
    if (shard_detail_status != cudaSuccess) {                                               \
      (void)cudaGetLastError();                                                             \
      std::fprintf(stderr, "shard: %s failed in a no-throw path: %s\n", #expr,              \
                   cudaGetErrorString(shard_detail_status));                                \
    }                                                                                       \
  } while (0)
