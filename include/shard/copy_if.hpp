#pragma once
/// @file copy_if.hpp
/// shard::copy_if, shard::remove_if, shard::unique
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/skeleton/compact.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <optional>

SHARD_NAMESPACE_BEGIN

/// Copies the elements x of `in` with pred(x) true into `out`, in order; `out` is replaced by
/// a vector of exactly that many elements, evenly distributed, and the count is returned.
/// Every shard selects locally (stable), the counts are gathered (one host sync), and one
/// exchange rebalances (only the elements whose shard changes cross a link; one host sync).
/// `pred` must be callable on the device in a CUDA translation unit. Throws
/// invalid_argument for different contexts.
template <class T, class Pred>
std::size_t copy_if(const vector<T>& in, vector<T>& out, Pred pred) {
  detail::require_same_context("shard::copy_if", in, out);
  const detail::call_scope scope(in.get_context().impl(), "shard::copy_if", in);
  const auto p = detail::pointers(in);
  const auto f = detail::callable(pred);
  out = detail::vector_access::adopt(
      in.get_context(),
      detail::compact<T>(
          in.get_context().impl(), p, in.segment_sizes(),
          [&](std::size_t s) { return detail::keep_fn<T, detail::callable_t<Pred>>{p[s], f, true}; }, [] {}),
      distribution::even());
  return out.size();
}

/// Removes the elements x with pred(x) true, keeping the order of the others; `v` shrinks to
/// the kept elements, evenly distributed. Returns the new size. As copy_if.
template <class T, class Pred>
std::size_t remove_if(vector<T>& v, Pred pred) {
  const detail::call_scope scope(v.get_context().impl(), "shard::remove_if", v);
  const auto p = detail::pointers(std::as_const(v));
  const auto f = detail::callable(pred);
  v = detail::vector_access::adopt(
      v.get_context(),
      detail::compact<T>(
          v.get_context().impl(), p, v.segment_sizes(),
          [&](std::size_t s) { return detail::keep_fn<T, detail::callable_t<Pred>>{p[s], f, false}; }, [] {}),
      distribution::even());
  return v.size();
}

/// Removes every element equal (operator==) to the one before it, across shard boundaries
/// too, as std::unique; `v` shrinks to the kept elements, evenly distributed. Returns the new
/// size. Every non-empty segment's last element goes to every other shard first (all_gather,
/// no host sync), so each shard knows its predecessor's; then as copy_if (two host syncs).
template <class T>
std::size_t unique(vector<T>& v) {
  const detail::call_scope scope(v.get_context().impl(), "shard::unique", v);
  auto& ctx = v.get_context().impl();
  const auto& sizes = v.segment_sizes();
  const auto p = detail::pointers(std::as_const(v));
  std::vector<std::size_t> previous(sizes.size(), sizes.size());  // nearest non-empty segment before
  for (std::size_t s = 0, last = sizes.size(); s < sizes.size(); ++s) {
    previous[s] = last;
    if (sizes[s] != 0) last = s;
  }
  detail::gathered<T> lasts;
  auto kept = detail::compact<T>(
      ctx, p, sizes,
      [&](std::size_t s) {
        const T* before = previous[s] == sizes.size() ? nullptr : lasts.shards.data(s) + previous[s];
        return detail::run_start_fn<T>{p[s], before};
      },
      [&] {
        lasts = detail::all_gather<T>(
            ctx, 1,
            [&](std::size_t s, T* slot) {
              if (sizes[s] == 0) return false;
              detail::launch(ctx, s, [&](auto& dev) {
                detail::primitive::for_each_index(dev, 1, detail::sample_fn<T>{p[s] + sizes[s] - 1, 1, 1, slot});
              });
              return true;
            },
            detail::seen_by::shards);
      });
  v = detail::vector_access::adopt(v.get_context(), std::move(kept), distribution::even());
  return v.size();
}

SHARD_NAMESPACE_END
