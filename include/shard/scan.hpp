#pragma once
/// @file scan.hpp
/// shard::inclusive_scan, shard::exclusive_scan
#include <shard/config.hpp>
#include <shard/core/exact_sum.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/functional.hpp>
#include <shard/skeleton/scan.hpp>
#include <shard/vector.hpp>

#include <optional>
#include <type_traits>

SHARD_NAMESPACE_BEGIN

/// out[i] = in[0] op in[1] op ... op in[i] (std::inclusive_scan), for an associative `op`.
/// In place when `in` and `out` are the same vector. `out` keeps its distribution; an input
/// laid out differently is first exchanged into it (visible in stats()).
///
/// Reduce-then-scan: three passes over the data (reduce, then scan from a carry read from
/// device memory), one host sync, and one value from each shard but the last non-empty one
/// to every other shard (at most (G-1)^2 values) when the vectors are aligned. Floating-point
/// order: each shard's elements continue from the shard-order fold of the earlier shards'
/// reductions (docs/design.md, "Scans"). `op` must be callable on the device in a CUDA
/// translation unit. Throws invalid_argument for different sizes or contexts.
template <class T, class Op>
void inclusive_scan(const vector<T>& in, vector<T>& out, Op op) {
  detail::require_same_context("shard::inclusive_scan", in, out);
  detail::require_same_size("shard::inclusive_scan", "the output", out.size(), "the input", in.size());
  const detail::call_scope scope(out.get_context().impl(), "shard::inclusive_scan", out);
  std::optional<vector<T>> moved;
  const auto src = detail::pointers(detail::aligned_to(in, out.segment_sizes(), moved));
  detail::scan<T>(out.get_context().impl(), src, detail::pointers(out), out.segment_sizes(), detail::callable(op),
                  std::nullopt);
}

/// inclusive_scan with shard::plus<>.
template <class T>
void inclusive_scan(const vector<T>& in, vector<T>& out) {
  shard::inclusive_scan(in, out, plus<>{});
}

/// out[0] = init, out[i] = init op in[0] op ... op in[i-1] (std::exclusive_scan); otherwise as
/// inclusive_scan.
template <class T, class Op>
void exclusive_scan(const vector<T>& in, vector<T>& out, std::type_identity_t<T> init, Op op) {
  detail::require_same_context("shard::exclusive_scan", in, out);
  detail::require_same_size("shard::exclusive_scan", "the output", out.size(), "the input", in.size());
  const detail::call_scope scope(out.get_context().impl(), "shard::exclusive_scan", out);
  std::optional<vector<T>> moved;
  const auto src = detail::pointers(detail::aligned_to(in, out.segment_sizes(), moved));
  detail::scan<T>(out.get_context().impl(), src, detail::pointers(out), out.segment_sizes(), detail::callable(op),
                  std::optional<T>(init));
}

/// exclusive_scan with shard::plus<>.
template <class T>
void exclusive_scan(const vector<T>& in, vector<T>& out, std::type_identity_t<T> init) {
  shard::exclusive_scan(in, out, init, plus<>{});
}

/// The reproducible inclusive scan with plus over float or double (docs/reproducible.md):
/// every value rounded once to one fixed-point grid chosen from the largest magnitude and the
/// length, the prefixes summed exactly as integers and each rounded once to T. Bit for bit
/// the same on any number of shards, distribution, rank layout, backend and run; each prefix
/// is the correctly rounded prefix sum when the magnitudes span less than about 2^(137 -
/// log2 n) (doubles; 2^(166 - log2 n) for floats), and loses only what lies below the grid
/// otherwise. `op` must be plus; for an integral T this is the ordinary scan (exact anyway).
/// Two host syncs, 32 bytes of scratch per element; otherwise as inclusive_scan.
template <class T, class Op>
void inclusive_scan(reproducible_t, const vector<T>& in, vector<T>& out, Op op) {
  static_assert(detail::is_plus<detail::callable_t<Op>>, "shard::inclusive_scan(shard::reproducible, ...): the operator must be plus");
  static_assert(std::is_integral_v<T> || detail::exact_summable<T>,
                "shard::inclusive_scan(shard::reproducible, ...): the element type must be float, double or an integer type");
  if constexpr (std::is_integral_v<T>) {
    shard::inclusive_scan(in, out, op);
  } else {
    detail::require_same_context("shard::inclusive_scan", in, out);
    detail::require_same_size("shard::inclusive_scan", "the output", out.size(), "the input", in.size());
    const detail::call_scope scope(out.get_context().impl(), "shard::inclusive_scan", out);
    std::optional<vector<T>> moved;
    const auto src = detail::pointers(detail::aligned_to(in, out.segment_sizes(), moved));
    detail::scan_reproducibly<T>(out.get_context().impl(), src, detail::pointers(out), out.segment_sizes(),
                                 std::nullopt);
  }
}

/// inclusive_scan(reproducible, in, out, plus<>{}).
template <class T>
void inclusive_scan(reproducible_t, const vector<T>& in, vector<T>& out) {
  shard::inclusive_scan(reproducible, in, out, plus<>{});
}

/// The reproducible exclusive scan: as inclusive_scan(reproducible, ...), from init (which is
/// rounded to the grid like every value: out[0] is init unless init has bits below it).
template <class T, class Op>
void exclusive_scan(reproducible_t, const vector<T>& in, vector<T>& out, std::type_identity_t<T> init, Op op) {
  static_assert(detail::is_plus<detail::callable_t<Op>>, "shard::exclusive_scan(shard::reproducible, ...): the operator must be plus");
  static_assert(std::is_integral_v<T> || detail::exact_summable<T>,
                "shard::exclusive_scan(shard::reproducible, ...): the element type must be float, double or an integer type");
  if constexpr (std::is_integral_v<T>) {
    shard::exclusive_scan(in, out, init, op);
  } else {
    detail::require_same_context("shard::exclusive_scan", in, out);
    detail::require_same_size("shard::exclusive_scan", "the output", out.size(), "the input", in.size());
    const detail::call_scope scope(out.get_context().impl(), "shard::exclusive_scan", out);
    std::optional<vector<T>> moved;
    const auto src = detail::pointers(detail::aligned_to(in, out.segment_sizes(), moved));
    detail::scan_reproducibly<T>(out.get_context().impl(), src, detail::pointers(out), out.segment_sizes(),
                                 std::optional<T>(init));
  }
}

/// exclusive_scan(reproducible, in, out, init, plus<>{}).
template <class T>
void exclusive_scan(reproducible_t, const vector<T>& in, vector<T>& out, std::type_identity_t<T> init) {
  shard::exclusive_scan(reproducible, in, out, init, plus<>{});
}

SHARD_NAMESPACE_END
