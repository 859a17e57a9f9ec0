#pragma once
/// @file backend/cuda/primitives/sort.hpp
/// The CUDA backend's "sort" family (primitive/sort.hpp): cub::DeviceRadixSort for
/// arithmetic keys under less/greater (stable; -0.0 and +0.0 equivalent), otherwise
/// cub::DeviceMergeSort's stable sorts. cub::DeviceMerge is documented as unstable (equivalent
/// keys of the two inputs in any order). That is unobservable for integer keys alone under
/// less/greater (equivalent keys are identical), so those merge through a tree of
/// cub::DeviceMerge::MergeKeys (ceil(log2 R) passes); every other merge_runs copies the
/// adjacent runs and sorts them stably: the same result as a stable merge, at the cost of a
/// sort (docs/sort.md).
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/error.hpp>
#include <shard/backend/cuda/primitives/temp_storage.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/merge_tree.hpp>

#include <cub/device/device_for.cuh>
#include <cub/device/device_merge.cuh>
#include <cub/device/device_merge_sort.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

namespace detail_sort {

/// keys (and values) sorted stably in place.
template <class K, class V, class Comp>
void stable_sort(device& d, K* keys, V* values, std::size_t n, Comp comp) {
  if (n < 2) return;
  constexpr int order = shard::detail::radix_order<Comp, K>;
  const auto count = static_cast<std::int64_t>(n);
  if constexpr (order != 0) {
    constexpr int end_bit = static_cast<int>(sizeof(K) * 8);
    device_guard g(d.ordinal());
    K* key_alt = static_cast<K*>(d.allocate(n * sizeof(K)));
    V* value_alt = nullptr;
    if constexpr (!std::is_void_v<V>) {
      try {
        value_alt = static_cast<V*>(d.allocate(n * sizeof(V)));
      } catch (...) {
        d.deallocate(key_alt, n * sizeof(K));  // the keys' half, already taken
        throw;
      }
    }
    cub::DoubleBuffer<K> k(keys, key_alt);
    try {
      if constexpr (std::is_void_v<V>) {
        with_temp_storage(d, "cub::DeviceRadixSort::SortKeys", [&](void* temp, std::size_t& bytes) {
          if constexpr (order > 0) return cub::DeviceRadixSort::SortKeys(temp, bytes, k, count, 0, end_bit, d.stream());
          else return cub::DeviceRadixSort::SortKeysDescending(temp, bytes, k, count, 0, end_bit, d.stream());
        });
        if (k.Current() != keys)
          SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(keys, k.Current(), n * sizeof(K), cudaMemcpyDeviceToDevice, d.stream()),
                                  d.shard(), d.ordinal());
      } else {
        cub::DoubleBuffer<V> v(values, value_alt);
        with_temp_storage(d, "cub::DeviceRadixSort::SortPairs", [&](void* temp, std::size_t& bytes) {
          if constexpr (order > 0) return cub::DeviceRadixSort::SortPairs(temp, bytes, k, v, count, 0, end_bit, d.stream());
          else return cub::DeviceRadixSort::SortPairsDescending(temp, bytes, k, v, count, 0, end_bit, d.stream());
        });
        if (k.Current() != keys)
          SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(keys, k.Current(), n * sizeof(K), cudaMemcpyDeviceToDevice, d.stream()),
                                  d.shard(), d.ordinal());
        if (v.Current() != values)
          SHARD_DETAIL_CUDA_THROW(
              cudaMemcpyAsync(values, v.Current(), n * sizeof(V), cudaMemcpyDeviceToDevice, d.stream()), d.shard(),
              d.ordinal());
      }
    } catch (...) {
      d.deallocate(key_alt, n * sizeof(K));
      if constexpr (!std::is_void_v<V>) d.deallocate(value_alt, n * sizeof(V));
      throw;
    }
    d.deallocate(key_alt, n * sizeof(K));  // stream-ordered: after the copies above
    if constexpr (!std::is_void_v<V>) d.deallocate(value_alt, n * sizeof(V));
  } else if constexpr (std::is_void_v<V>) {
    with_temp_storage(d, "cub::DeviceMergeSort::StableSortKeys", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceMergeSort::StableSortKeys(temp, bytes, keys, count, comp, d.stream());
    });
  } else {
    with_temp_storage(d, "cub::DeviceMergeSort::StableSortPairs", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceMergeSort::StableSortPairs(temp, bytes, keys, values, count, comp, d.stream());
    });
  }
}

template <class T>
void copy_async(device& d, T* dst, const T* src, std::size_t n) {
  if (n == 0) return;
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, d.stream()), d.shard(),
                          d.ordinal());
}

}  // namespace detail_sort

template <class K, class Comp>
void sort(device& d, K* keys, std::size_t n, Comp comp) {
  detail_sort::stable_sort<K, void>(d, keys, nullptr, n, comp);
}

template <class K, class V, class Comp>
void sort_pairs(device& d, K* keys, V* values, std::size_t n, Comp comp) {
  detail_sort::stable_sort<K, V>(d, keys, values, n, comp);
}

template <class K, class Comp>
void merge_runs(device& d, const K* in, std::vector<std::size_t> offsets, K* out, Comp comp) {
  const std::size_t n = offsets.back();
  if constexpr (std::is_integral_v<K> && shard::detail::radix_order<Comp, K> != 0) {
    const auto plan = shard::detail::merge_tree(offsets);
    if (!plan.empty()) {
      // The levels of detail::merge_tree (tested on the host): pairwise merges of adjacent
      // runs between a scratch buffer and `out`, the last level writing `out`.
      device_guard g(d.ordinal());
      K* scratch = plan.size() > 1 ? static_cast<K*>(d.allocate(n * sizeof(K))) : nullptr;
      try {
        const K* src = in;
        for (const auto& level : plan) {
          K* dst = level.into_out ? out : scratch;
          for (const auto& m : level.steps) {
            if (m.hi == m.mid) {
              detail_sort::copy_async(d, dst + m.lo, src + m.lo, m.mid - m.lo);
            } else {
              with_temp_storage(d, "cub::DeviceMerge::MergeKeys", [&](void* temp, std::size_t& bytes) {
                return cub::DeviceMerge::MergeKeys(temp, bytes, src + m.lo, static_cast<std::int64_t>(m.mid - m.lo), src + m.mid,
                                                   static_cast<std::int64_t>(m.hi - m.mid), dst + m.lo, comp, d.stream());
              });
            }
          }
          src = dst;
        }
      } catch (...) {
        if (scratch) d.deallocate(scratch, n * sizeof(K));
        throw;
      }
      if (scratch) d.deallocate(scratch, n * sizeof(K));  // stream-ordered: after the merges
      return;
    }
  }
  detail_sort::copy_async(d, out, in, n);
  if (offsets.size() > 2) detail_sort::stable_sort<K, void>(d, out, nullptr, n, comp);
}

template <class K, class V, class Comp>
void merge_runs_pairs(device& d, const K* keys, const V* values, std::vector<std::size_t> offsets, K* keys_out,
                      V* values_out, Comp comp) {
  const std::size_t n = offsets.back();
  detail_sort::copy_async(d, keys_out, keys, n);
  detail_sort::copy_async(d, values_out, values, n);
  if (offsets.size() > 2) detail_sort::stable_sort<K, V>(d, keys_out, values_out, n, comp);
}

/// bytes = the device memory the stable sort of n elements takes beyond its buffers: the radix
/// sort's second buffer and CUB's temporary storage (asked of CUB; nothing runs), or the merge
/// sort's temporary storage (primitive/sort.hpp).
template <class K, class V, class Comp>
void sort_scratch_bytes(device& d, const K*, const V*, std::size_t n, Comp comp, std::size_t& bytes) {
  bytes = 0;
  if (n < 2) return;
  constexpr int order = shard::detail::radix_order<Comp, K>;
  const auto count = static_cast<std::int64_t>(n);
  device_guard g(d.ordinal());
  std::size_t temp = 0;
  cudaError_t status = cudaSuccess;
  if constexpr (order != 0) {
    constexpr int end_bit = static_cast<int>(sizeof(K) * 8);
    cub::DoubleBuffer<K> k(nullptr, nullptr);
    if constexpr (std::is_void_v<V>) {
      if constexpr (order > 0) status = cub::DeviceRadixSort::SortKeys(nullptr, temp, k, count, 0, end_bit, d.stream());
      else status = cub::DeviceRadixSort::SortKeysDescending(nullptr, temp, k, count, 0, end_bit, d.stream());
      bytes = n * sizeof(K);
    } else {
      cub::DoubleBuffer<V> v(nullptr, nullptr);
      if constexpr (order > 0) status = cub::DeviceRadixSort::SortPairs(nullptr, temp, k, v, count, 0, end_bit, d.stream());
      else status = cub::DeviceRadixSort::SortPairsDescending(nullptr, temp, k, v, count, 0, end_bit, d.stream());
      bytes = n * (sizeof(K) + sizeof(V));
    }
  } else if constexpr (std::is_void_v<V>) {
    status = cub::DeviceMergeSort::StableSortKeys(nullptr, temp, static_cast<K*>(nullptr), count, comp, d.stream());
  } else {
    status = cub::DeviceMergeSort::StableSortPairs(nullptr, temp, static_cast<K*>(nullptr), static_cast<V*>(nullptr),
                                                   count, comp, d.stream());
  }
  if (status != cudaSuccess) throw_cuda_error(status, "CUB's temporary storage size (sort)", d.shard(), d.ordinal());
  bytes += temp;
}

/// bytes = the most device memory merge_runs / merge_runs_pairs of n elements takes beyond its
/// input and output: the merge tree's scratch (n keys), or the stable sort's.
template <class K, class V, class Comp>
void merge_scratch_bytes(device& d, const K* keys, const V* values, std::size_t n, Comp comp, std::size_t& bytes) {
  sort_scratch_bytes(d, keys, values, n, comp, bytes);
  if constexpr (std::is_void_v<V>) bytes = std::max(bytes, n * sizeof(K));
}

template <class K, class Comp>
void bounds(device& d, const K* sorted, std::size_t n, const K* needles, std::size_t m, std::size_t* out, Comp comp,
            bool upper) {
  if (m == 0) return;
  device_guard g(d.ordinal());
  SHARD_DETAIL_CUDA_THROW(
      cub::DeviceFor::Bulk(m, shard::detail::bounds_fn<K, Comp>{sorted, n, needles, out, comp, upper}, d.stream()),
      d.shard(), d.ordinal());
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
