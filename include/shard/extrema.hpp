#pragma once
/// @file extrema.hpp
/// shard::min_element, shard::max_element
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/functional.hpp>
#include <shard/skeleton/reduce.hpp>
#include <shard/vector.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN

/// Global index and value of an element: `auto [index, value] = shard::min_element(v);`
template <class T>
struct element {
  std::size_t index;  ///< global index; == size() for an empty vector (like std's end)
  T value;            ///< the element (T{} for an empty vector)
};

namespace detail {
template <bool Max, class T, class Comp>
element<T> extremum(const vector<T>& v, Comp comp) {
  const extremum_op<Comp, Max> op{comp};
  const auto partials = segment_partials<indexed<T>>(v.get_context().impl(), v.segment_sizes(), op,
                                                     [&](std::size_t s) {
                                                       const auto seg = v.segment(s);
                                                       return indexed_fn<T>{seg.data, seg.offset};
                                                     });
  // No init: the first present partial starts the fold (shard order).
  maybe<indexed<T>> best{indexed<T>{T{}, v.size()}, false};
  for (const auto& p : partials) best = maybe_op<extremum_op<Comp, Max>>{op}(best, p);
  return element<T>{best.value.index, best.value.value};
}
}  // namespace detail

/// The first smallest element (by `comp`, default <), like std::min_element. One
/// (value, index) pair per non-empty segment moves to the host; one host sync. `comp` must be
/// callable on the device in a CUDA translation unit (SHARD_HOST_DEVICE; std::less<> and
/// std::greater<> are taken as shard's).
template <class T, class Comp = less<>>
element<T> min_element(const vector<T>& v, Comp comp = {}) {
  const detail::call_scope scope(v.get_context().impl(), "shard::min_element", v);
  return detail::extremum<false>(v, detail::callable(comp));
}

/// The first largest element (by `comp`, default <), like std::max_element.
template <class T, class Comp = less<>>
element<T> max_element(const vector<T>& v, Comp comp = {}) {
  const detail::call_scope scope(v.get_context().impl(), "shard::max_element", v);
  return detail::extremum<true>(v, detail::callable(comp));
}

SHARD_NAMESPACE_END
