#pragma once
/// @file backend/cuda/error.hpp
/// Checking CUDA calls, in two forms with distinct jobs (stdexec's throw and assert): the
/// throwing form, SHARD_DETAIL_CUDA_THROW, on every path that may throw, and the logging form,
/// SHARD_DETAIL_CUDA_REPORT, in destructors and other no-throw paths, where a failure is
/// reported on stderr and the work goes on. Code that must release something before it
/// throws, or knows the bytes an allocation asked for, keeps the cudaError_t and calls the
/// function behind the throwing form, throw_cuda_error, afterwards (stdexec's third job:
/// return the status).
#include <shard/config.hpp>
#include <shard/error.hpp>

#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

/// Errors after which the device's context is broken for the rest of the process (the runtime
/// documents each of them with "the process must be terminated and relaunched").
inline bool is_sticky(cudaError_t status) noexcept {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorContained:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorMpsClientTerminated:
    case cudaErrorExternalDevice:
      return true;
    default:
      return false;
  }
}

/// Throws device_fault (sticky errors), out_of_memory (with `requested` bytes, when known) or
/// shard::error for a failed CUDA call, after clearing the non-sticky error state so the next
/// call does not see it.
[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, int shard, int device,
                                          std::size_t requested = 0) {
  (void)cudaGetLastError();
  const std::string message = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
  if (is_sticky(status)) throw device_fault(message, shard, device, call);
  if (status == cudaErrorMemoryAllocation) {
    std::size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) (void)cudaGetLastError();  // best effort
    throw out_of_memory(shard, device, requested, free_bytes, call);
  }
  throw error(message, shard, device, call);
}

/// Reports a failed CUDA call on stderr and clears the error; for paths that must not throw.
inline void report_cuda_error(cudaError_t status, const char* call) noexcept {
  (void)cudaGetLastError();
  std::fprintf(stderr, "shard: %s failed in a no-throw path: %s\n", call, cudaGetErrorString(status));
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END

/// Throws (see throw_cuda_error) naming the call, shard and device when `expr` fails.
#define SHARD_DETAIL_CUDA_THROW(expr, shard_index, device_ordinal)                                            \
  do {                                                                                                        \
    const cudaError_t shard_detail_status = (expr);                                                           \
    if (shard_detail_status != cudaSuccess)                                                                   \
      ::shard::cuda_backend::throw_cuda_error(shard_detail_status, #expr, (shard_index), (device_ordinal));   \
  } while (0)

/// For destructors and other no-throw paths: reports a failure on stderr and goes on.
#define SHARD_DETAIL_CUDA_REPORT(expr)                                                               \
  do {                                                                                               \
    const cudaError_t shard_detail_status = (expr);                                                  \
    if (shard_detail_status != cudaSuccess) ::shard::cuda_backend::report_cuda_error(shard_detail_status, #expr); \
  } while (0)
