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

// shard's own function objects: __host__ __device__ where the CUDA backend is compiled in,
// host functions otherwise (also in an nvcc translation unit built with SHARD_DISABLE_CUDA,
// which then takes host-only callables, as a g++ one does).
#if SHARD_HAS_CUDA
#  define SHARD_DETAIL_HOST_DEVICE __host__ __device__
#else
#  define SHARD_DETAIL_HOST_DEVICE
#endif

// The device-callable rule (docs/design.md). nvcc diagnoses a __host__ __device__ function
// that calls a __host__-only function (a user struct without __device__, std::plus<>, a plain
// lambda) only with a warning, and the device code it emits for that call is nothing at all:
// a kernel built from such a wrapper compiles to `ret;`. Every shard header region that holds
// __host__ __device__ code calling user code (function objects, operators of user types) is
// wrapped in these macros, which make those diagnostics errors (20011: "calling a __host__
// function(...) from a __host__ __device__ function(...) is not allowed"; 20013: the same
// for a constexpr __host__ function) and drop the unnamed duplicates (20014, 20015). They
// apply where the template is defined, so they hold for every instantiation, whichever
// translation unit makes it. tests/compile_fail checks that each case stays an error.
#if defined(__NVCC__) && SHARD_HAS_CUDA
#  define SHARD_DETAIL_DEVICE_CHECKS_BEGIN                                                         \
    _Pragma("nv_diagnostic push") _Pragma("nv_diag_error 20011") _Pragma("nv_diag_error 20013") \
        _Pragma("nv_diag_suppress 20014") _Pragma("nv_diag_suppress 20015")
#  define SHARD_DETAIL_DEVICE_CHECKS_END _Pragma("nv_diagnostic pop")
#else
#  define SHARD_DETAIL_DEVICE_CHECKS_BEGIN
#  define SHARD_DETAIL_DEVICE_CHECKS_END
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
