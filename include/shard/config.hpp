#pragma once
/// @file config.hpp
/// Compiler and configuration macros. Included first by every shard header.

#include <cstddef>

#define SHARD_VERSION_MAJOR 0
#define SHARD_VERSION_MINOR 1
#define SHARD_VERSION_PATCH 0

/// SHARD_HAS_CUDA is 1 in a translation unit compiled by nvcc (the CUDA backend is
/// compiled in) and 0 otherwise (host backend only).
#if defined(__CUDACC__) && !defined(SHARD_DISABLE_CUDA)
#  define SHARD_HAS_CUDA 1
#else
#  define SHARD_HAS_CUDA 0
#endif

/// SHARD_HAS_NCCL is 1 in a CUDA translation unit built with SHARD_ENABLE_NCCL defined (the
/// CMake target shard::nccl defines it and links NCCL): all-to-all and the collectives can
/// then run on NCCL when every shard is a distinct GPU.
#if SHARD_HAS_CUDA && defined(SHARD_ENABLE_NCCL)
#  define SHARD_HAS_NCCL 1
#else
#  define SHARD_HAS_NCCL 0
#endif

/// Mark user function objects and lambdas that run on both backends:
/// `[] SHARD_HOST_DEVICE (int x) { return 2 * x; }`.
#if defined(__CUDACC__)
#  define SHARD_HOST_DEVICE __host__ __device__
#else
#  define SHARD_HOST_DEVICE
#endif

// Silences nvcc's "calling a __host__ function from a __host__ __device__ function"
// diagnostic on templates that forward to user function objects: whether the call is
// legal depends on the instantiation, exactly as in CUB/Thrust.
#if defined(__CUDACC__)
#  define SHARD_DETAIL_EXEC_CHECK_DISABLE _Pragma("nv_exec_check_disable")
#else
#  define SHARD_DETAIL_EXEC_CHECK_DISABLE
#endif

// One-definition rule: the same inline function compiled by g++ (host backend only) and by
// nvcc (both backends) has two different bodies. Every entity of shard therefore lives in an
// inline namespace that encodes the configuration, as CCCL does, so the two versions are
// distinct symbols and never merged by the linker. docs/design.md explains the consequences.
#if SHARD_HAS_NCCL
#  define SHARD_DETAIL_ABI v0_cuda_nccl
#elif SHARD_HAS_CUDA
#  define SHARD_DETAIL_ABI v0_cuda
#else
#  define SHARD_DETAIL_ABI v0_host
#endif

#define SHARD_NAMESPACE_BEGIN \
  namespace shard {           \
  inline namespace SHARD_DETAIL_ABI {
#define SHARD_NAMESPACE_END \
  }                         \
  }
