#pragma once
/// @file backend/host/primitives/sort.hpp
/// The host backend's "sort" family (primitive/sort.hpp): radix sort
/// (backend/host/radix_sort.hpp) for arithmetic keys under less/greater, std::stable_sort
/// otherwise; merges in a balanced tree of pairs of adjacent runs (detail::merge_tree), back
/// and forth between the runs' buffer and a spare one; under
/// host_options::cuda_semantics the integer-key merge takes ties in the other order, as
/// cub::DeviceMerge may.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/backend/host/radix_sort.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/merge_tree.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

namespace detail_sort {

/// Below this many keys a comparison sort beats the radix sort's fixed passes.
inline constexpr std::size_t radix_min = 256;

template <class K, class V, class Comp>
void stable_sort(K* keys, V* values, std::size_t n, Comp comp) {
  if (n < 2) return;
  constexpr int order = detail::radix_order<Comp, K>;
  if constexpr (order != 0) {
    // Floating-point keys always: std::stable_sort with less is undefined with NaNs, and the
    // radix order (CUB's) places them by their bits.
    if (n >= radix_min || std::is_floating_point_v<K>) return radix::sort<(order < 0), K, V>(keys, values, n);
  }
  if constexpr (std::is_void_v<V>) {
    std::stable_sort(keys, keys + n, comp);
  } else {
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    std::stable_sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) { return comp(keys[a], keys[b]); });
    std::vector<K> k(keys, keys + n);
    std::vector<V> v(values, values + n);
    for (std::size_t i = 0; i < n; ++i) keys[i] = k[perm[i]], values[i] = v[perm[i]];
  }
}

/// Stable merge of [a, a + na) and [b, b + nb) (ties: a first) into out, with values.
/// With `b_on_ties` (cuda_semantics, integer keys: cub::DeviceMerge is unstable), b's key goes
/// first among equivalent keys.
template <class K, class V, class Comp>
void merge2(const K* a, const V* av, std::size_t na, const K* b, const V* bv, std::size_t nb, K* out, V* outv,
            Comp comp, bool b_on_ties = false) {
  std::size_t i = 0, j = 0, o = 0;
  while (i < na && j < nb) {
    if (b_on_ties ? !comp(a[i], b[j]) : comp(b[j], a[i])) {
      out[o] = b[j];
      if constexpr (!std::is_void_v<V>) outv[o] = bv[j];
      ++j;
    } else {
      out[o] = a[i];
      if constexpr (!std::is_void_v<V>) outv[o] = av[i];
      ++i;
    }
    ++o;
  }
  for (; i < na; ++i, ++o) {
    out[o] = a[i];
    if constexpr (!std::is_void_v<V>) outv[o] = av[i];
  }
  for (; j < nb; ++j, ++o) {
    out[o] = b[j];
    if constexpr (!std::is_void_v<V>) outv[o] = bv[j];
  }
}

/// Merges the adjacent runs of keys[0, offsets.back()) (and their values) pairwise, level by
/// level, back and forth between keys/values and spare_keys/spare_values as detail::merge_tree
/// plans it: every element is copied ceil(log2 R) times, equal keys keep run order, and the
/// merged sequence ends in the spare buffers when detail::result_in_spare(plan).
template <class K, class V, class Comp>
void merge_runs(K* keys, V* values, K* spare_keys, V* spare_values, const std::vector<std::size_t>& offsets, Comp comp,
                bool b_on_ties = false) {
  constexpr bool pairs = !std::is_void_v<V>;
  for (const auto& level : detail::merge_tree(offsets)) {
    const K* src = level.into_spare ? keys : spare_keys;
    K* dst = level.into_spare ? spare_keys : keys;
    const V* vsrc = nullptr;
    V* vdst = nullptr;
    if constexpr (pairs) {
      vsrc = level.into_spare ? values : spare_values;
      vdst = level.into_spare ? spare_values : values;
    }
    for (const auto& m : level.steps) {
      if constexpr (pairs) {
        merge2<K, V>(src + m.lo, vsrc + m.lo, m.mid - m.lo, src + m.mid, vsrc + m.mid, m.hi - m.mid, dst + m.lo,
                     vdst + m.lo, comp, b_on_ties);
      } else {
        merge2<K, V>(src + m.lo, nullptr, m.mid - m.lo, src + m.mid, nullptr, m.hi - m.mid, dst + m.lo, nullptr, comp,
                     b_on_ties);
      }
    }
  }
}

/// Bytes of an element and its value (none for void values).
template <class K, class V>
inline constexpr std::size_t pair_bytes = sizeof(K) + (std::is_void_v<V> ? 0 : sizeof(std::conditional_t<std::is_void_v<V>, char, V>));

/// What the CUDA backend's stable sort of n elements takes of its GPU beyond the elements (a
/// radix sort's second buffer, or cub::DeviceMergeSort's temporary storage: about as much),
/// held from the emulated device's capacity while the emulated sort runs.
template <class K, class V>
std::size_t sort_scratch(std::size_t n) {
  return n < 2 ? 0 : n * pair_bytes<K, V>;
}

}  // namespace detail_sort

template <class K, class Comp>
void sort(device& d, K* keys, std::size_t n, Comp comp) {
  const device::scratch_hold scratch(d, detail_sort::sort_scratch<K, void>(n), "sort (scratch)");
  d.launch([=] { detail_sort::stable_sort<K, void>(keys, nullptr, n, comp); });
}

template <class K, class V, class Comp>
void sort_pairs(device& d, K* keys, V* values, std::size_t n, Comp comp) {
  const device::scratch_hold scratch(d, detail_sort::sort_scratch<K, V>(n), "sort_pairs (scratch)");
  d.launch([=] { detail_sort::stable_sort<K, V>(keys, values, n, comp); });
}

template <class K, class Comp>
void merge_runs(device& d, K* keys, K* spare, std::vector<std::size_t> offsets, Comp comp, bool& in_spare) {
  // The CUDA backend merges exactly these keys with cub::DeviceMerge (unstable); the rest it
  // re-sorts stably.
  const bool b_on_ties = d.cuda_semantics() && std::is_integral_v<K> && detail::radix_order<Comp, K> != 0;
  const auto plan = detail::merge_tree(offsets);
  in_spare = detail::result_in_spare(plan);
  if (plan.empty()) return;
  d.launch([=] { detail_sort::merge_runs<K, void>(keys, nullptr, spare, nullptr, offsets, comp, b_on_ties); });
}

template <class K, class V, class Comp>
void merge_runs_pairs(device& d, K* keys, V* values, K* spare_keys, V* spare_values, std::vector<std::size_t> offsets,
                      Comp comp, bool& in_spare) {
  const auto plan = detail::merge_tree(offsets);
  in_spare = detail::result_in_spare(plan);
  if (plan.empty()) return;
  d.launch([=] { detail_sort::merge_runs<K, V>(keys, values, spare_keys, spare_values, offsets, comp); });
}

/// bytes = the device memory sort (values: null) or sort_pairs of n elements takes beyond its
/// buffers (primitive/sort.hpp).
template <class K, class V, class Comp>
void sort_scratch_bytes(device&, const K*, const V*, std::size_t n, Comp, std::size_t& bytes) {
  bytes = detail_sort::sort_scratch<K, V>(n);
}

/// bytes = the most device memory merge_runs / merge_runs_pairs of n elements (any number of
/// runs) takes beyond its two buffers: none (the merges go back and forth between them).
template <class K, class V, class Comp>
void merge_scratch_bytes(device&, const K*, const V*, std::size_t, Comp, std::size_t& bytes) {
  bytes = 0;
}

template <class K, class Comp>
void bounds(device& d, const K* sorted, std::size_t n, const K* needles, std::size_t m, std::size_t* out, Comp comp,
            bool upper) {
  d.launch([=] {
    if (!std::is_sorted(needles, needles + m, comp)) {
      const detail::bounds_fn<K, Comp> f{sorted, n, needles, out, comp, upper};
      for (std::size_t j = 0; j < m; ++j) f(j);
      return;
    }
    // Ascending needles (the sort's queries): each answer is at or after the previous one,
    // found by a galloping search from there, O(m log(n / m)) in all and cache-friendly; its
    // first step is the mean distance left between answers (the sort's queries are about
    // evenly spread). The answers are the binary search's.
    const auto right_of = [&](std::size_t i, const K& x) { return upper ? !comp(x, sorted[i]) : comp(sorted[i], x); };
    std::size_t at = 0;
    for (std::size_t j = 0; j < m; ++j) {
      const K& x = needles[j];
      std::size_t lo = at, hi = at, step = std::max<std::size_t>(1, (n - at) / (m - j));
      while (hi < n && right_of(hi, x)) lo = hi + 1, hi = at + step, step *= 2;
      hi = std::min(hi, n);
      // The answer is in [lo, hi]: a bisection without branches on the comparisons.
      std::size_t len = hi - lo;
      while (len > 0) {
        const std::size_t half = len / 2;
        const bool right = right_of(lo + half, x);
        lo = right ? lo + half + 1 : lo;
        len = right ? len - half - 1 : half;
      }
      out[j] = at = lo;
    }
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
