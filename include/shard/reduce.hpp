#pragma once
/// @file reduce.hpp
/// shard::reduce
#include <shard/config.hpp>
#include <shard/detail/skeleton/reduce.hpp>
#include <shard/functional.hpp>
#include <shard/vector.hpp>

#include <vector>

SHARD_NAMESPACE_BEGIN

/// init op x0 op x1 op ... over every element, where op is associative and commutative
/// (as for std::reduce). Association order: each segment is reduced on its shard (the host
/// backend folds left to right; CUB's order on a GPU, which is fixed for a given size and
/// GPU), then the host folds init with the segment results in shard order. The result is
/// identical from run to run. Moves one value per non-empty segment to the host; one host
/// sync.
template <class T, class U, class Op>
U reduce(const vector<T>& v, U init, Op op) {
  std::vector<const T*> data;
  for (std::size_t s = 0; s < v.num_segments(); ++s) data.push_back(v.segment(s).data);
  return detail::reduce_elements<T, U>(v.get_context().impl(), data, v.segment_sizes(), init, op);
}

/// The sum of the elements, starting from T{}.
template <class T>
T reduce(const vector<T>& v) {
  return shard::reduce(v, T{}, plus<>{});
}

SHARD_NAMESPACE_END
