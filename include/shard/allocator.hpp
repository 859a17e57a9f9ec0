#pragma once
/// @file allocator.hpp
/// shard::allocator: device memory from the application's own allocator or pool (RMM, a
/// cudaMallocAsync pool with its own settings, a counting test allocator), one pair of
/// callables for every device of a context (docs/interop.md).
#include <shard/config.hpp>
#include <shard/error.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string>

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
};

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
