#pragma once
/// @file allocator.hpp
/// shard::allocator: device memory from the application's own allocator or pool (RMM, a
/// cudaMallocAsync pool with its own settings, a counting test allocator), one pair of
/// callables for every device of a context (docs/interop.md).
#include <shard/config.hpp>
#include <shard/error.hpp>

#if SHARD_HAS_CUDA
#  include <cuda/stream_ref>
#  include <cuda_runtime_api.h>
#endif

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// Where shard allocates or frees: the shard, its device (CUDA ordinal, or the emulated
/// device's index) and the shard's stream as a `cudaStream_t` cast to void* (null on an
/// emulated device). Memory is first used on that stream, and freed in its order: work queued
/// on it before the free may still read the memory, so a deallocate either frees in stream
/// order (cudaFreeAsync(p, stream), RMM's deallocate(p, bytes, stream)) or synchronises the
/// stream first.
struct allocation_place {
  std::size_t shard = 0;
  int device = -1;
  void* stream = nullptr;
};

/// The application's device memory: `allocate(bytes, where)` returns `bytes` bytes of the
/// device's memory (on a GPU: memory its kernels can read and write, e.g. cudaMallocAsync on
/// the stream given), aligned to at least 256 bytes as cudaMalloc's are; null or std::bad_alloc
/// for "no memory" (shard throws out_of_memory naming the shard). `deallocate(p, bytes, where)`
/// gets back exactly what allocate gave, with the same size and place, and must not throw.
/// Both set, or neither (shard's own pools). Every device allocation shard makes goes through
/// it: vectors, scratch buffers, CUB's temporary storage; stats still count the vectors' and
/// scratch buffers' bytes (peak_bytes) as with shard's pools.
struct allocator {
  std::function<void*(std::size_t bytes, const allocation_place& where)> allocate;
  std::function<void(void* p, std::size_t bytes, const allocation_place& where)> deallocate;

  /// Whether the application's allocator is used (both callables set).
  explicit operator bool() const noexcept { return allocate && deallocate; }

  /// The allocator of a memory resource in CCCL's `cuda::mr` shape, for every device of the
  /// context (a resource that allocates on the current device, or on the stream's): one
  /// resource object, shared by the devices (held by a shared_ptr; it must be thread-safe, as
  /// the shards allocate at once). An async resource (`allocate_async(bytes, alignment,
  /// cuda::stream_ref)` and `deallocate_async(p, bytes, alignment, stream)`, in a CUDA
  /// translation unit) gets the shard's stream: stream-ordered. A synchronous one
  /// (`allocate(bytes, alignment)`, `deallocate(p, bytes, alignment)`) is called as it is, after
  /// synchronising the shard's stream before a free (memory of a GPU shard may still be read by
  /// queued work; an emulated device has no stream). Alignment: 256 bytes, as cudaMalloc's.
  template <class Resource>
  static allocator from_resource(Resource resource);
  /// As from_resource, with one resource per device (`by_device[d]` serves the shards on CUDA
  /// device d, or on emulated device d): per-device pools, as CCCL's device resources are. A
  /// synchronous resource on a GPU synchronises the shard's stream before each free, a wait
  /// outside the context's deadline: prefer an async one there. Allocating on a device beyond
  /// the list throws invalid_argument naming it.
  template <class Resource>
  static allocator from_resources(std::vector<Resource> by_device);
};

namespace detail {

/// What from_resource needs of a resource: CCCL's async resource shape (CUDA translation
/// units), or its synchronous shape.
#if SHARD_HAS_CUDA
template <class R>
concept async_memory_resource = requires(R& r, void* p, std::size_t n, std::size_t a, ::cuda::stream_ref s) {
  { r.allocate_async(n, a, s) } -> std::same_as<void*>;
  r.deallocate_async(p, n, a, s);
};
#else
template <class R>
concept async_memory_resource = false;
#endif
template <class R>
concept sync_memory_resource = requires(R& r, void* p, std::size_t n, std::size_t a) {
  { r.allocate(n, a) } -> std::same_as<void*>;
  r.deallocate(p, n, a);
};

/// The allocator of resources chosen per place by `pick(where) -> Resource&`.
template <class Resource, class Pick>
allocator allocator_of_resources(Pick pick) {
  static_assert(async_memory_resource<Resource> || sync_memory_resource<Resource>,
                "shard::allocator::from_resource: the resource needs allocate(bytes, alignment) and "
                "deallocate(p, bytes, alignment) (CCCL's cuda::mr::resource), or allocate_async and "
                "deallocate_async with a cuda::stream_ref (cuda::mr::async_resource, in a CUDA translation unit)");
  constexpr std::size_t alignment = 256;  // device_alignment, below
  allocator a;
  a.allocate = [pick](std::size_t bytes, const allocation_place& where) -> void* {
    Resource& r = pick(where);
#if SHARD_HAS_CUDA
    if constexpr (async_memory_resource<Resource>) {
      if (where.stream != nullptr)
        return r.allocate_async(bytes, alignment, ::cuda::stream_ref(static_cast<cudaStream_t>(where.stream)));
    }
#endif
    if constexpr (sync_memory_resource<Resource>) {
      return r.allocate(bytes, alignment);
    } else {
      throw invalid_argument("allocator::from_resource: an async resource (allocate_async) on shard " +
                             std::to_string(where.shard) + ", which has no stream (an emulated device)");
    }
  };
  a.deallocate = [pick](void* p, std::size_t bytes, const allocation_place& where) {
    Resource& r = pick(where);
#if SHARD_HAS_CUDA
    if constexpr (async_memory_resource<Resource>) {
      if (where.stream != nullptr) {
        r.deallocate_async(p, bytes, alignment, ::cuda::stream_ref(static_cast<cudaStream_t>(where.stream)));
        return;
      }
    }
    // A synchronous free of memory that queued work may still read: the stream first (a wait
    // without the context's deadline: prefer an async resource).
    if (where.stream != nullptr && cudaStreamSynchronize(static_cast<cudaStream_t>(where.stream)) != cudaSuccess)
      (void)cudaGetLastError();  // a failed stream: its error was (or will be) reported by the call that waits
#endif
    if constexpr (sync_memory_resource<Resource>) r.deallocate(p, bytes, alignment);
  };
  return a;
}

}  // namespace detail

template <class Resource>
allocator allocator::from_resource(Resource resource) {
  auto shared = std::make_shared<Resource>(std::move(resource));
  return detail::allocator_of_resources<Resource>([shared](const allocation_place&) -> Resource& { return *shared; });
}

template <class Resource>
allocator allocator::from_resources(std::vector<Resource> by_device) {
  if (by_device.empty()) throw invalid_argument("allocator::from_resources: the list of resources is empty");
  auto shared = std::make_shared<std::vector<Resource>>(std::move(by_device));
  return detail::allocator_of_resources<Resource>([shared](const allocation_place& where) -> Resource& {
    if (where.device < 0 || static_cast<std::size_t>(where.device) >= shared->size())
      throw invalid_argument("allocator::from_resources: no resource for device " + std::to_string(where.device) +
                             " (shard " + std::to_string(where.shard) + "; " + std::to_string(shared->size()) +
                             " resources)");
    return (*shared)[static_cast<std::size_t>(where.device)];
  });
}

namespace detail {

/// Alignment every device allocation has (what cudaMalloc guarantees; CUB and vectorised
/// loads rely on it).
inline constexpr std::size_t device_alignment = 256;

/// Throws invalid_argument unless `a` has both callables or neither; `where` names the option.
inline void check_allocator(const allocator& a, const char* where) {
  if (static_cast<bool>(a.allocate) != static_cast<bool>(a.deallocate))
    throw invalid_argument(std::string(where) +
                           ": the allocator needs both callables, allocate and deallocate (or neither)");
}

/// `bytes` bytes from the application's allocator for `where`: out_of_memory when it returns
/// null or throws std::bad_alloc, invalid_argument (after giving the memory back) when the
/// memory is not aligned to device_alignment bytes. Other exceptions pass through unchanged.
inline void* allocate_from(const allocator& a, std::size_t bytes, const allocation_place& where) {
  void* p = nullptr;
  const int shard = static_cast<int>(where.shard);
  try {
    p = a.allocate(bytes, where);
  } catch (const std::bad_alloc&) {
    throw out_of_memory(shard, where.device, bytes, 0, "the application's allocator (std::bad_alloc)");
  }
  if (p == nullptr) throw out_of_memory(shard, where.device, bytes, 0, "the application's allocator (null)");
  if (reinterpret_cast<std::uintptr_t>(p) % device_alignment != 0) {
    a.deallocate(p, bytes, where);
    throw invalid_argument("allocator: the application's allocate returned memory aligned to less than " +
                           std::to_string(device_alignment) + " bytes for shard " + std::to_string(where.shard) +
                           " (device allocations must be aligned as cudaMalloc's are)");
  }
  return p;
}

}  // namespace detail
SHARD_NAMESPACE_END
