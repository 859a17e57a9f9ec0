#pragma once
/// @file fill.hpp
/// shard::fill, shard::iota
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/vector.hpp>

#include <type_traits>

SHARD_NAMESPACE_BEGIN

/// Sets every element of `v` to `value`. One launch per non-empty segment, 0 bytes moved,
/// one host sync.
template <class T>
void fill(vector<T>& v, const std::type_identity_t<T>& value) {
  const detail::call_scope scope(v.get_context().impl(), "shard::fill", v);
  auto& ctx = v.get_context().impl();
  detail::run_and_wait(ctx, [&] { detail::enqueue_fill(ctx, detail::pointers(v), v.segment_sizes(), value); });
}

/// v[i] = first + T(i) for every global index i (like thrust::sequence; for floating-point
/// T this is not the repeated ++ of std::iota, which loses precision as it goes). Arithmetic
/// T only. One launch per non-empty segment, 0 bytes moved, one host sync.
template <class T>
void iota(vector<T>& v, const std::type_identity_t<T>& first) {
  const detail::call_scope scope(v.get_context().impl(), "shard::iota", v);
  static_assert(std::is_arithmetic_v<T>, "shard::iota requires an arithmetic element type");
  detail::elementwise(v.get_context().impl(), v.segment_sizes(), [&](auto& dev, std::size_t s) {
    const auto seg = v.segment(s);
    detail::primitive::for_each_index(dev, seg.size, detail::iota_fn<T>{seg.data, first, seg.offset});
  });
}

SHARD_NAMESPACE_END
