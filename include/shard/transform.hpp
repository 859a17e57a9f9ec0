#pragma once
/// @file transform.hpp
/// shard::transform (unary and binary)
#include <shard/config.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/transform.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/vector.hpp>

#include <optional>

SHARD_NAMESPACE_BEGIN

/// out[i] = op(in[i]). In place when `in` and `out` are the same vector. When `in` is not
/// aligned with `out`, its elements are first exchanged into out's layout (visible in
/// stats()); aligned vectors move 0 bytes. One launch per non-empty segment, one host sync.
/// `op` must be callable on the device in a CUDA translation unit (SHARD_HOST_DEVICE;
/// std::'s function objects are taken as shard's). Throws invalid_argument for different
/// sizes or contexts.
template <class T, class U, class Op>
void transform(const vector<T>& in, vector<U>& out, Op op) {
  detail::require_same_context("shard::transform", in, out);
  detail::require_same_size("shard::transform", "the output", out.size(), "the input", in.size());
  const detail::call_scope scope(out.get_context().impl(), "shard::transform", out);
  std::optional<vector<T>> moved;
  const auto src = detail::pointers(detail::aligned_to(in, out.segment_sizes(), moved));
  const auto dst = detail::pointers(out);
  const auto& sizes = out.segment_sizes();
  const auto f = detail::callable(op);
  detail::elementwise(out.get_context().impl(), sizes, [&](auto& dev, std::size_t s) {
    detail::primitive::transform(dev, src[s], dst[s], sizes[s], f);
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
  const detail::call_scope scope(out.get_context().impl(), "shard::transform", out);
  std::optional<vector<A>> moved_a;
  std::optional<vector<B>> moved_b;
  const auto x = detail::pointers(detail::aligned_to(a, out.segment_sizes(), moved_a));
  const auto y = detail::pointers(detail::aligned_to(b, out.segment_sizes(), moved_b));
  const auto dst = detail::pointers(out);
  const auto& sizes = out.segment_sizes();
  const auto f = detail::callable(op);
  detail::elementwise(out.get_context().impl(), sizes, [&](auto& dev, std::size_t s) {
    detail::primitive::transform(dev, x[s], y[s], dst[s], sizes[s], f);
  });
}

SHARD_NAMESPACE_END
