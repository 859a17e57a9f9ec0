#pragma once
/// @file transform.hpp
/// shard::transform (unary and binary)
#include <shard/config.hpp>
#include <shard/detail/primitives.hpp>
#include <shard/detail/skeleton/checks.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/vector.hpp>

#include <optional>

SHARD_NAMESPACE_BEGIN

/// out[i] = op(in[i]). In place when `in` and `out` are the same vector. When `in` is not
/// aligned with `out`, its elements are first exchanged into out's layout (visible in
/// stats()); aligned vectors move 0 bytes. One launch per non-empty segment, one host sync.
/// Throws invalid_argument for different sizes or contexts.
template <class T, class U, class Op>
void transform(const vector<T>& in, vector<U>& out, Op op) {
  detail::require_same_context("shard::transform", in, out);
  detail::require_same_size("shard::transform", "the output", out.size(), "the input", in.size());
  std::optional<vector<T>> moved;
  const vector<T>& a = detail::aligned_to(in, out.segment_sizes(), moved);
  auto& ctx = out.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto src = a.segment(s);
    const auto dst = out.segment(s);
    if (dst.size == 0) return;
    detail::launch(ctx, s, [&](auto& dev) { detail::primitive::transform(dev, src.data, dst.data, dst.size, op); });
  });
}

/// out[i] = op(a[i], b[i]). Inputs not aligned with `out` are exchanged into its layout
/// first. Throws invalid_argument for different sizes or contexts.
template <class A, class B, class U, class Op>
void transform(const vector<A>& a, const vector<B>& b, vector<U>& out, Op op) {
  detail::require_same_context("shard::transform", a, out);
  detail::require_same_context("shard::transform", b, out);
  detail::require_same_size("shard::transform", "the output", out.size(), "the first input", a.size());
  detail::require_same_size("shard::transform", "the second input", b.size(), "the first input", a.size());
  std::optional<vector<A>> moved_a;
  std::optional<vector<B>> moved_b;
  const vector<A>& x = detail::aligned_to(a, out.segment_sizes(), moved_a);
  const vector<B>& y = detail::aligned_to(b, out.segment_sizes(), moved_b);
  auto& ctx = out.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto dst = out.segment(s);
    if (dst.size == 0) return;
    const auto sx = x.segment(s);
    const auto sy = y.segment(s);
    detail::launch(ctx, s,
                   [&](auto& dev) { detail::primitive::transform(dev, sx.data, sy.data, dst.data, dst.size, op); });
  });
}

SHARD_NAMESPACE_END
