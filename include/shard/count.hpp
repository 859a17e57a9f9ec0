#pragma once
/// @file count.hpp
/// shard::count, shard::count_if
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/functional.hpp>
#include <shard/skeleton/reduce.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <type_traits>

SHARD_NAMESPACE_BEGIN

/// Number of elements for which pred(x) is true. One count per non-empty segment moves to
/// the host; one host sync. `pred` must be callable on the device in a CUDA translation unit
/// (SHARD_HOST_DEVICE).
template <class T, class Pred>
std::size_t count_if(const vector<T>& v, Pred pred) {
  const detail::call_scope scope(v.get_context().impl(), "shard::count_if", v);
  const auto p = detail::callable(pred);
  return detail::reduce_segments(v.get_context().impl(), v.segment_sizes(), std::size_t{0}, plus<std::size_t>{},
                                 [&](std::size_t s) {
                                   return detail::count_fn<T, detail::callable_t<Pred>>{v.segment(s).data, p};
                                 });
}

/// Number of elements equal to `value` (operator==).
template <class T>
std::size_t count(const vector<T>& v, const std::type_identity_t<T>& value) {
  return shard::count_if(v, detail::equals_fn<T>{value});
}

SHARD_NAMESPACE_END
