#pragma once
/// @file reduce.hpp
/// shard::reduce
#include <shard/config.hpp>
#include <shard/core/run.hpp>
#include <shard/functional.hpp>
#include <shard/skeleton/reduce.hpp>
#include <shard/vector.hpp>

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

SHARD_NAMESPACE_END
