#pragma once
/// @file reduce.hpp
/// shard::reduce
#include <shard/config.hpp>
#include <shard/core/run.hpp>
#include <shard/functional.hpp>
#include <shard/skeleton/reduce.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// init op x0 op x1 op ... over every element, where op is associative and commutative
/// (as for std::reduce). Association order: each segment is reduced on its shard (the host
/// backend folds left to right; CUB's order on a GPU, which is fixed for a given size and
/// GPU), then the host folds init with the segment results in shard order. The result is
/// identical from run to run. Moves one value per non-empty segment to the host; one host
/// sync. `op` must be callable on the device in a CUDA translation unit (SHARD_HOST_DEVICE;
/// std::plus<> and the other std:: function objects are taken as shard's).
template <class T, class U, class Op>
U reduce(const vector<T>& v, U init, Op op) {
  const detail::call_scope scope(v.get_context().impl(), "shard::reduce", v);
  return detail::reduce_elements<T, U>(v.get_context().impl(), detail::pointers(v), v.segment_sizes(), init,
                                       detail::callable(op));
}

/// The sum of the elements, starting from T{}.
template <class T>
T reduce(const vector<T>& v) {
  return shard::reduce(v, T{}, plus<>{});
}

/// The reproducible sum init + x0 + x1 + ... (docs/reproducible.md): for U float or double,
/// the elements converted to U and summed exactly, then rounded once to the nearest U (ties to
/// even), so the result is bit for bit the same on any number of shards, any distribution,
/// any rank layout, either backend and every run, and is the correctly rounded sum (no
/// overflow on the way, no cancellation lost). NaN if any element is NaN or both infinities
/// occur. `op` must be plus (shard's or std::'s); for an integral U the sum is exact anyway
/// and this is reduce(v, init, op). Moves 2 KiB (float) or 32 KiB (double) per non-empty
/// segment to the host; one host sync. Throws invalid_argument for a segment of more than
/// 2^36 elements.
template <class T, class U, class Op>
U reduce(reproducible_t, const vector<T>& v, U init, Op op) {
  static_assert(detail::is_plus<detail::callable_t<Op>>, "shard::reduce(shard::reproducible, ...): the operator must be plus");
  static_assert(std::is_integral_v<U> || detail::exact_summable<U>,
                "shard::reduce(shard::reproducible, ...): the sum's type must be float, double or an integer type");
  if constexpr (std::is_integral_v<U>) {
    return shard::reduce(v, init, op);
  } else {
    const detail::call_scope scope(v.get_context().impl(), "shard::reduce", v);
    return detail::sum_exactly<U>(v.get_context().impl(), v.segment_sizes(), init,
                                  [&](std::size_t s) {
                                    return detail::convert_fn<U, detail::read_fn<T, detail::identity_fn>>{
                                        {v.segment(s).data, {}}};
                                  },
                                  "shard::reduce(shard::reproducible, ...)");
  }
}

/// The reproducible sum of the elements, from T{}.
template <class T>
T reduce(reproducible_t, const vector<T>& v) {
  return shard::reduce(reproducible, v, T{}, plus<>{});
}

SHARD_NAMESPACE_END
