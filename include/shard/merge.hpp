#pragma once
/// @file merge.hpp
/// shard::merge, shard::is_sorted, shard::lower_bound, shard::upper_bound
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/detail/merged.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/reduce.hpp>
#include <shard/primitive/sort.hpp>
#include <shard/skeleton/collectives.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/skeleton/sort.hpp>
#include <shard/sort.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// Merges the sorted vectors `a` and `b` into `out` (laid out by out's own distribution),
/// stably as std::merge: of equivalent elements, those of `a` come first. Merge-path
/// partitioning: every output boundary is split exactly over the 2G input segments (the
/// sort's splitter, docs/sort.md), so every shard merges exactly its output segment; each
/// element moves at most once; at most 3 host syncs plus the final one. Throws
/// invalid_argument when out.size() != a.size() + b.size(), when `out` is one of the inputs,
/// or for different contexts. Inputs that are not sorted give an unspecified order.
template <class T, class Comp>
void merge(const vector<T>& a, const vector<T>& b, vector<T>& out, Comp comp) {
  if (&out == &a || &out == &b) throw invalid_argument("shard::merge: the output must not be one of the inputs");
  detail::require_same_context("shard::merge", a, out);
  detail::require_same_context("shard::merge", b, out);
  detail::require_same_size("shard::merge", "the output", out.size(), "the two inputs together", a.size() + b.size());
  const detail::call_scope scope(out.get_context().impl(), "shard::merge", out);
  const auto pa = detail::pointers(a), pb = detail::pointers(b);
  auto runs = detail::segment_runs<T, void>(pa, {}, a.segment_sizes());
  const auto runs_b = detail::segment_runs<T, void>(pb, {}, b.segment_sizes());
  runs.insert(runs.end(), runs_b.begin(), runs_b.end());
  auto merged = detail::merge_runs<T, void>(out.get_context().impl(), runs, out.segment_sizes(), false,
                                            detail::callable(comp), [] {}, "merge");
  detail::commit_merged(merged.keys, merged.where, out);
}

/// merge with shard::less<>.
template <class T>
void merge(const vector<T>& a, const vector<T>& b, vector<T>& out) {
  shard::merge(a, b, out, less<>{});
}

/// Whether `v` is sorted by `comp` (no element ordered before its predecessor), across shard
/// boundaries too. Every shard counts its descents and contributes its first and last
/// elements (one gather of metadata); the host checks the boundaries between consecutive
/// non-empty segments. One host sync; moves 2 elements and a count per non-empty segment to
/// the host.
template <class T, class Comp>
bool is_sorted(const vector<T>& v, Comp comp) {
  const detail::call_scope scope(v.get_context().impl(), "shard::is_sorted", v);
  auto& ctx = v.get_context().impl();
  const auto& sizes = v.segment_sizes();
  const auto p = detail::pointers(v);
  const auto c = detail::callable(comp);
  const auto e = detail::all_gather<detail::edges<T>>(
                     ctx, 1,
                     [&](std::size_t s, detail::edges<T>* slot) {
                       if (sizes[s] == 0) return false;
                       detail::launch(ctx, s, [&](auto& dev) {
                         detail::primitive::for_each_index(dev, 1, detail::edges_fn<T>{p[s], sizes[s], slot});
                         detail::primitive::transform_reduce_index(dev, sizes[s] - 1, &slot->descents, std::size_t{0},
                                                                   plus<std::size_t>{},
                                                                   detail::descent_fn<T, detail::callable_t<Comp>>{p[s], c});
                       });
                       return true;
                     },
                     detail::seen_by::host)
                     .host;
  const detail::edges<T>* previous = nullptr;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    if (sizes[s] == 0) continue;
    if (e[s].descents != 0) return false;
    if (previous != nullptr && c(e[s].first, previous->last)) return false;
    previous = &e[s];
  }
  return true;
}

/// is_sorted with shard::less<>.
template <class T>
bool is_sorted(const vector<T>& v) {
  return shard::is_sorted(v, less<>{});
}

namespace detail {
/// result[i] = the global index of the lower (upper) bound of needles[i] in `sorted`: the sum
/// over shards of the bound within each segment. Every shard of `sorted` receives all the
/// needles (an all-gather: (G-1) x the needles' bytes into each shard), searches them in its
/// segment, and the per-shard positions are summed in shard order on the shard that holds
/// each result (a reduce-scatter of size_t). One host sync.
template <class T, class Comp>
void bound_all(const char* name, const vector<T>& sorted, const vector<T>& needles, vector<std::size_t>& result,
               Comp comp, bool upper) {
  require_same_context(name, sorted, needles);
  require_same_context(name, sorted, result);
  require_same_size(name, "the result", result.size(), "the needles", needles.size());
  const call_scope scope(sorted.get_context().impl(), name, sorted);
  auto& ctx = sorted.get_context().impl();
  const std::size_t g = ctx.size(), m = needles.size();
  if (m == 0) return;
  const auto& sizes = sorted.segment_sizes();
  const auto& nsizes = needles.segment_sizes();
  const auto noff = offsets_of(nsizes);
  const auto& rsizes = result.segment_sizes();
  const auto roff = offsets_of(rsizes);
  const auto c = callable(comp);
  const auto sp = pointers(sorted);
  const auto np = pointers(needles);
  segmented_buffer<T> all_needles;
  segmented_buffer<std::size_t> found, blocks;
  run_and_wait(ctx, [&] {
    all_needles = segmented_buffer<T>(ctx, std::vector<std::size_t>(g, m));
    found = segmented_buffer<std::size_t>(ctx, std::vector<std::size_t>(g, m));
    std::vector<transfer> plan;
    for (std::size_t s = 0; s < g; ++s)
      for (std::size_t d = 0; d < g; ++d)
        if (nsizes[s] != 0) plan.push_back(transfer{s, 0, d, noff[s], nsizes[s]});
    transport::exchange(ctx, plan, np, all_needles.pointers());
    for (std::size_t s = 0; s < g; ++s)
      launch(ctx, s, [&](auto& dev) {
        primitive::bounds(dev, sp[s], sizes[s], static_cast<const T*>(all_needles.data(s)), m, found.data(s), c, upper);
      });
    // Block e of every shard's positions to shard e, then folded there in shard order.
    std::vector<std::size_t> block_elements(g);
    for (std::size_t e = 0; e < g; ++e) block_elements[e] = g * rsizes[e];
    blocks = segmented_buffer<std::size_t>(ctx, block_elements);
    std::vector<transfer> scatter;
    for (std::size_t s = 0; s < g; ++s)
      for (std::size_t e = 0; e < g; ++e)
        if (rsizes[e] != 0) scatter.push_back(transfer{s, roff[e], e, s * rsizes[e], rsizes[e]});
    const auto fp = found.pointers();
    transport::exchange(ctx, scatter, std::vector<const std::size_t*>(fp.begin(), fp.end()), blocks.pointers());
    reducing::enqueue_fold(ctx, blocks.pointers(), rsizes, pointers(result), plus<std::size_t>{});
  });
}
}  // namespace detail

/// result[i] = the index of the first element of `sorted` not ordered before needles[i]
/// (std::lower_bound's position), a global index. `sorted` must be sorted by `comp`;
/// `result` has needles.size() elements (else invalid_argument) and keeps its distribution.
/// Moves (G-1) x the needles into each shard and (G-1)/G of G result-sized blocks of
/// positions between shards; one host sync.
template <class T, class Comp>
void lower_bound(const vector<T>& sorted, const vector<T>& needles, vector<std::size_t>& result, Comp comp) {
  detail::bound_all("shard::lower_bound", sorted, needles, result, comp, false);
}
template <class T>
void lower_bound(const vector<T>& sorted, const vector<T>& needles, vector<std::size_t>& result) {
  shard::lower_bound(sorted, needles, result, less<>{});
}

/// result[i] = the index of the first element of `sorted` ordered after needles[i]
/// (std::upper_bound's position); otherwise as lower_bound.
template <class T, class Comp>
void upper_bound(const vector<T>& sorted, const vector<T>& needles, vector<std::size_t>& result, Comp comp) {
  detail::bound_all("shard::upper_bound", sorted, needles, result, comp, true);
}
template <class T>
void upper_bound(const vector<T>& sorted, const vector<T>& needles, vector<std::size_t>& result) {
  shard::upper_bound(sorted, needles, result, less<>{});
}

SHARD_NAMESPACE_END
