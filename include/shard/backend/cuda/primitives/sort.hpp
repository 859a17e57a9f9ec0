#pragma once
/// @file backend/cuda/primitives/sort.hpp
/// The CUDA backend's "sort" family (primitive/sort.hpp): cub::DeviceRadixSort for
/// arithmetic keys under less/greater (stable; -0.0 and +0.0 equivalent), otherwise
/// cub::DeviceMergeSort's stable sorts. cub::DeviceMerge is documented as unstable (equivalent
/// keys of the two inputs in any order). That is unobservable for integer keys alone under
/// less/greater (equivalent keys are identical), so those merge through a tree of
/// cub::DeviceMerge::MergeKeys (ceil(log2 R) passes, back and forth between the runs' buffer
/// and the spare); every other merge_runs sorts the adjacent runs stably, in place or with the
/// spare as the radix sort's second buffer: the same result as a stable merge, at the cost of
/// a sort (docs/sort.md).
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

/// keys (and values) sorted stably. With `alt_keys` (and `alt_values`), buffers of n elements
/// the sort may use: a radix sort ping-pongs between them and the keys' buffers and leaves the
/// result where it ends, returning true when that is the alt buffers; without them it takes
/// such buffers of its own, copies the result back when needed, and returns false. A merge
/// sort works in place (false).
template <class K, class V, class Comp>
bool stable_sort(device& d, K* keys, V* values, std::size_t n, Comp comp, K* alt_keys = nullptr, V* alt_values = nullptr) {
  if (n < 2) return false;
  constexpr int order = shard::detail::radix_order<Comp, K>;
  const auto count = static_cast<std::int64_t>(n);
  if constexpr (order != 0) {
    constexpr int end_bit = static_cast<int>(sizeof(K) * 8);
    device_guard g(d.ordinal());
    const bool own = alt_keys == nullptr;
    K* key_alt = own ? static_cast<K*>(d.allocate(n * sizeof(K))) : alt_keys;
    V* value_alt = nullptr;
    if constexpr (!std::is_void_v<V>) {
      if (own) {
        try {
          value_alt = static_cast<V*>(d.allocate(n * sizeof(V)));
        } catch (...) {
          d.deallocate(key_alt, n * sizeof(K));  // the keys' half, already taken
          throw;
        }
      } else {
        value_alt = alt_values;
      }
    }
    const auto give_back = [&] {
      if (!own) return;
      d.deallocate(key_alt, n * sizeof(K));  // stream-ordered: after the work queued above
      if constexpr (!std::is_void_v<V>) d.deallocate(value_alt, n * sizeof(V));
    };
    cub::DoubleBuffer<K> k(keys, key_alt);
    bool in_alt = false;
    try {
      if constexpr (std::is_void_v<V>) {
        with_temp_storage(d, "cub::DeviceRadixSort::SortKeys", [&](void* temp, std::size_t& bytes) {
          if constexpr (order > 0) return cub::DeviceRadixSort::SortKeys(temp, bytes, k, count, 0, end_bit, d.stream());
          else return cub::DeviceRadixSort::SortKeysDescending(temp, bytes, k, count, 0, end_bit, d.stream());
        });
        in_alt = k.Current() != keys;
        if (in_alt && own)
          SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(keys, k.Current(), n * sizeof(K), cudaMemcpyDeviceToDevice, d.stream()),
                                  d.shard(), d.ordinal());
      } else {
        cub::DoubleBuffer<V> v(values, value_alt);
        with_temp_storage(d, "cub::DeviceRadixSort::SortPairs", [&](void* temp, std::size_t& bytes) {
          if constexpr (order > 0) return cub::DeviceRadixSort::SortPairs(temp, bytes, k, v, count, 0, end_bit, d.stream());
          else return cub::DeviceRadixSort::SortPairsDescending(temp, bytes, k, v, count, 0, end_bit, d.stream());
        });
        // CUB flips the keys' and the values' selectors together.
        in_alt = k.Current() != keys;
        if (in_alt && own) {
          SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(keys, k.Current(), n * sizeof(K), cudaMemcpyDeviceToDevice, d.stream()),
                                  d.shard(), d.ordinal());
          SHARD_DETAIL_CUDA_THROW(
              cudaMemcpyAsync(values, v.Current(), n * sizeof(V), cudaMemcpyDeviceToDevice, d.stream()), d.shard(),
              d.ordinal());
        }
      }
    } catch (...) {
      give_back();
      throw;
    }
    give_back();
    return in_alt && !own;
  } else if constexpr (std::is_void_v<V>) {
    with_temp_storage(d, "cub::DeviceMergeSort::StableSortKeys", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceMergeSort::StableSortKeys(temp, bytes, keys, count, comp, d.stream());
    });
    return false;
  } else {
    with_temp_storage(d, "cub::DeviceMergeSort::StableSortPairs", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceMergeSort::StableSortPairs(temp, bytes, keys, values, count, comp, d.stream());
    });
    return false;
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
void merge_runs(device& d, K* keys, K* spare, std::vector<std::size_t> offsets, Comp comp, bool& in_spare) {
  in_spare = false;
  if (offsets.size() <= 2) return;  // one run (or none): already in order
  const std::size_t n = offsets.back();
  if constexpr (std::is_integral_v<K> && shard::detail::radix_order<Comp, K> != 0) {
    // The levels of detail::merge_tree (tested on the host): pairwise merges of adjacent runs,
    // back and forth between the runs' buffer and the spare.
    const auto plan = shard::detail::merge_tree(offsets);
    device_guard g(d.ordinal());
    for (const auto& level : plan) {
      const K* src = level.into_spare ? keys : spare;
      K* dst = level.into_spare ? spare : keys;
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
    }
    in_spare = shard::detail::result_in_spare(plan);
  } else {
    // cub::DeviceMerge is unstable: a stable sort of the runs instead (the spare as a radix
    // sort's second buffer).
    in_spare = detail_sort::stable_sort<K, void>(d, keys, nullptr, n, comp, spare, nullptr);
  }
}

template <class K, class V, class Comp>
void merge_runs_pairs(device& d, K* keys, V* values, K* spare_keys, V* spare_values, std::vector<std::size_t> offsets,
                      Comp comp, bool& in_spare) {
  in_spare = false;
  if (offsets.size() <= 2) return;
  in_spare = detail_sort::stable_sort<K, V>(d, keys, values, offsets.back(), comp, spare_keys, spare_values);
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
/// two buffers: the stable sort's temporary storage where it sorts (its radix sort's second
/// buffer is the spare), cub::DeviceMerge's for the merges of integer keys.
template <class K, class V, class Comp>
void merge_scratch_bytes(device& d, const K* keys, const V* values, std::size_t n, Comp comp, std::size_t& bytes) {
  bytes = 0;
  if constexpr (std::is_void_v<V> && std::is_integral_v<K> && shard::detail::radix_order<Comp, K> != 0) {
    // cub::DeviceMerge's temporary storage for the largest merge of a level (all n keys).
    if (n < 2) return;
    device_guard g(d.ordinal());
    const auto half = static_cast<std::int64_t>(n / 2), rest = static_cast<std::int64_t>(n - n / 2);
    const cudaError_t status = cub::DeviceMerge::MergeKeys(nullptr, bytes, static_cast<const K*>(nullptr), half,
                                                           static_cast<const K*>(nullptr), rest, static_cast<K*>(nullptr),
                                                           comp, d.stream());
    if (status != cudaSuccess) throw_cuda_error(status, "CUB's temporary storage size (merge)", d.shard(), d.ordinal());
    (void)keys, (void)values;
  } else {
    sort_scratch_bytes(d, keys, values, n, comp, bytes);
    constexpr std::size_t element = sizeof(K) + (std::is_void_v<V> ? 0 : sizeof(std::conditional_t<std::is_void_v<V>, char, V>));
    if (shard::detail::radix_order<Comp, K> != 0) bytes -= std::min(bytes, n * element);  // the spare is its second buffer
  }
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
