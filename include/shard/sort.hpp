#pragma once
/// @file sort.hpp
/// shard::sort, shard::stable_sort, shard::sort_by_key
#include <shard/config.hpp>
#include <shard/copy.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/detail/merged.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/sort.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/skeleton/sort.hpp>
#include <shard/vector.hpp>

#include <optional>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN

namespace detail {
/// The segments of `v`, as sorted runs in shard order (empty segments left out).
template <class K, class V>
std::vector<sorted_run<K, V>> segment_runs(const std::vector<const K*>& keys, const std::vector<const V*>& values,
                                           const std::vector<std::size_t>& sizes) {
  std::vector<sorted_run<K, V>> runs;
  for (std::size_t s = 0; s < sizes.size(); ++s)
    if (sizes[s] != 0) runs.push_back(sorted_run<K, V>{s, keys[s], values.empty() ? nullptr : values[s], sizes[s]});
  return runs;
}
}  // namespace detail

/// Sorts `v` by `comp` (a strict weak order), stably: equivalent elements keep their order,
/// so the result is std::stable_sort's. `v` keeps exactly its distribution, whatever the keys.
///
/// Every shard sorts its segment (a radix sort for arithmetic keys under shard::less /
/// shard::greater, a merge sort otherwise), exact splitters are found from samples (three
/// small gathers of metadata), one all-to-all in rotated order moves each element at most
/// once (about (G-1)/G of the data when keys are random), and every shard merges the runs it
/// received. Host syncs: at most 4, whatever n. Extra memory per shard: the received
/// elements (its segment's size) plus the local sort's and merge's scratch. Details and
/// figures: docs/sort.md. `comp` must be callable on the device in a CUDA translation unit.
template <class T, class Comp>
void stable_sort(vector<T>& v, Comp comp) {
  const detail::call_scope scope(v.get_context().impl(), "shard::stable_sort", v);
  auto& ctx = v.get_context().impl();
  const auto& sizes = v.segment_sizes();
  const auto p = detail::pointers(v);
  const auto c = detail::callable(comp);
  const auto runs = detail::segment_runs<T, void>(std::vector<const T*>(p.begin(), p.end()), {}, sizes);
  auto merged = detail::merge_runs<T, void>(ctx, runs, sizes, true, c, [&] {
    detail::enqueue_segments(ctx, sizes, [&](auto& dev, std::size_t s) { detail::primitive::sort(dev, p[s], sizes[s], c); });
  }, "sort", sizes);
  detail::commit_merged(merged.keys, merged.where, v);
}

/// stable_sort with shard::less<>.
template <class T>
void stable_sort(vector<T>& v) {
  shard::stable_sort(v, less<>{});
}

/// Sorts `v` by `comp`. shard's sort is stable (it is stable_sort), which std::sort allows.
template <class T, class Comp>
void sort(vector<T>& v, Comp comp) {
  shard::stable_sort(v, comp);
}

/// sort with shard::less<>.
template <class T>
void sort(vector<T>& v) {
  shard::stable_sort(v, less<>{});
}

/// Sorts `keys` by `comp` and moves `values` with them, stably (equal keys keep their values'
/// order). Each vector keeps its own distribution; when `values` is laid out differently
/// from `keys`, it is exchanged into the keys' layout first and back afterwards (visible in
/// stats()). Throws invalid_argument for different sizes or contexts.
template <class K, class V, class Comp>
void sort_by_key(vector<K>& keys, vector<V>& values, Comp comp) {
  detail::require_same_context("shard::sort_by_key", keys, values);
  detail::require_same_size("shard::sort_by_key", "the values", values.size(), "the keys", keys.size());
  const detail::call_scope scope(keys.get_context().impl(), "shard::sort_by_key", keys);
  auto& ctx = keys.get_context().impl();
  const auto& sizes = keys.segment_sizes();
  std::optional<vector<V>> moved;
  if (values.segment_sizes() != sizes) moved.emplace(values, keys.distribution());
  vector<V>& vals = moved ? *moved : values;
  const auto k = detail::pointers(keys);
  const auto v = detail::pointers(vals);
  const auto c = detail::callable(comp);
  const auto runs = detail::segment_runs<K, V>(std::vector<const K*>(k.begin(), k.end()),
                                               std::vector<const V*>(v.begin(), v.end()), sizes);
  auto merged = detail::merge_runs<K, V>(ctx, runs, sizes, true, c, [&] {
    detail::enqueue_segments(ctx, sizes, [&](auto& dev, std::size_t s) {
      detail::primitive::sort_pairs(dev, k[s], v[s], sizes[s], c);
    });
  }, "sort_by_key", sizes);
  detail::commit_merged(merged.keys, merged.where, keys);
  detail::commit_merged(merged.values, merged.where, vals);
  if (moved) shard::copy(*moved, values);
}

/// sort_by_key with shard::less<>.
template <class K, class V>
void sort_by_key(vector<K>& keys, vector<V>& values) {
  shard::sort_by_key(keys, values, less<>{});
}

SHARD_NAMESPACE_END
