#pragma once
/// @file transform_reduce.hpp
/// shard::transform_reduce (unary and binary)
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/functional.hpp>
#include <shard/skeleton/reduce.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <optional>
#include <type_traits>

SHARD_NAMESPACE_BEGIN

/// init rop t(x0) rop t(x1) ..., with the association order of shard::reduce. The
/// transformed values are never stored. One value per non-empty segment moves to the host;
/// one host sync. Both operators must be callable on the device in a CUDA translation unit
/// (SHARD_HOST_DEVICE; std:: function objects are taken as shard's).
template <class T, class U, class Rop, class Top>
U transform_reduce(const vector<T>& v, U init, Rop reduce_op, Top transform_op) {
  const detail::call_scope scope(v.get_context().impl(), "shard::transform_reduce", v);
  const auto t = detail::callable(transform_op);
  return detail::reduce_segments(v.get_context().impl(), v.segment_sizes(), init, detail::callable(reduce_op),
                                 [&](std::size_t s) {
                                   return detail::read_fn<T, detail::callable_t<Top>>{v.segment(s).data, t};
                                 });
}

/// init rop t(a0, b0) rop t(a1, b1) ... (the inner product with plus and multiplies). When
/// b is not aligned with a, b is exchanged into a's layout first. Throws invalid_argument for
/// different sizes or contexts.
template <class A, class B, class U, class Rop, class Top>
U transform_reduce(const vector<A>& a, const vector<B>& b, U init, Rop reduce_op, Top transform_op) {
  detail::require_same_context("shard::transform_reduce", a, b);
  detail::require_same_size("shard::transform_reduce", "the second input", b.size(), "the first input", a.size());
  const detail::call_scope scope(a.get_context().impl(), "shard::transform_reduce", a);
  std::optional<vector<B>> moved;
  const vector<B>& y = detail::aligned_to(b, a.segment_sizes(), moved);
  const auto t = detail::callable(transform_op);
  return detail::reduce_segments(a.get_context().impl(), a.segment_sizes(), init, detail::callable(reduce_op),
                                 [&](std::size_t s) {
                                   return detail::read2_fn<A, B, detail::callable_t<Top>>{a.segment(s).data,
                                                                                          y.segment(s).data, t};
                                 });
}

/// The reproducible sum init + t(x0) + t(x1) + ...: as reduce(reproducible, ...), over the
/// transformed values converted to U (float or double; an integral U is the ordinary call).
template <class T, class U, class Rop, class Top>
U transform_reduce(reproducible_t, const vector<T>& v, U init, Rop reduce_op, Top transform_op) {
  static_assert(detail::is_plus<detail::callable_t<Rop>>,
                "shard::transform_reduce(shard::reproducible, ...): the reduction must be plus");
  static_assert(std::is_integral_v<U> || detail::exact_summable<U>,
                "shard::transform_reduce(shard::reproducible, ...): the sum's type must be float, double or an integer type");
  if constexpr (std::is_integral_v<U>) {
    return shard::transform_reduce(v, init, reduce_op, transform_op);
  } else {
    const detail::call_scope scope(v.get_context().impl(), "shard::transform_reduce", v);
    const auto t = detail::callable(transform_op);
    return detail::sum_exactly<U>(v.get_context().impl(), v.segment_sizes(), init,
                                  [&](std::size_t s) {
                                    return detail::convert_fn<U, detail::read_fn<T, detail::callable_t<Top>>>{
                                        {v.segment(s).data, t}};
                                  },
                                  "shard::transform_reduce(shard::reproducible, ...)");
  }
}

/// The reproducible init + t(a0, b0) + t(a1, b1) + ... (a dot product that gives the same bits
/// everywhere). b is exchanged into a's layout first when the two differ.
template <class A, class B, class U, class Rop, class Top>
U transform_reduce(reproducible_t, const vector<A>& a, const vector<B>& b, U init, Rop reduce_op, Top transform_op) {
  static_assert(detail::is_plus<detail::callable_t<Rop>>,
                "shard::transform_reduce(shard::reproducible, ...): the reduction must be plus");
  static_assert(std::is_integral_v<U> || detail::exact_summable<U>,
                "shard::transform_reduce(shard::reproducible, ...): the sum's type must be float, double or an integer type");
  if constexpr (std::is_integral_v<U>) {
    return shard::transform_reduce(a, b, init, reduce_op, transform_op);
  } else {
    detail::require_same_context("shard::transform_reduce", a, b);
    detail::require_same_size("shard::transform_reduce", "the second input", b.size(), "the first input", a.size());
    const detail::call_scope scope(a.get_context().impl(), "shard::transform_reduce", a);
    std::optional<vector<B>> moved;
    const vector<B>& y = detail::aligned_to(b, a.segment_sizes(), moved);
    const auto t = detail::callable(transform_op);
    return detail::sum_exactly<U>(a.get_context().impl(), a.segment_sizes(), init,
                                  [&](std::size_t s) {
                                    return detail::convert_fn<U, detail::read2_fn<A, B, detail::callable_t<Top>>>{
                                        {a.segment(s).data, y.segment(s).data, t}};
                                  },
                                  "shard::transform_reduce(shard::reproducible, ...)");
  }
}

SHARD_NAMESPACE_END
