#pragma once
/// @file fill.hpp
/// shard::fill, shard::iota
#include <shard/config.hpp>
#include <shard/detail/functors.hpp>
#include <shard/detail/primitives.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/vector.hpp>

#include <type_traits>

SHARD_NAMESPACE_BEGIN

/// Sets every element of `v` to `value`. One launch per non-empty segment, 0 bytes moved,
/// one host sync.
template <class T>
void fill(vector<T>& v, const std::type_identity_t<T>& value) {
  auto& ctx = v.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto seg = v.segment(s);
    if (seg.size == 0) return;
    detail::launch(ctx, s, [&](auto& dev) {
      detail::primitive::for_each_index(dev, seg.size, detail::fill_fn<T>{seg.data, value});
    });
  });
}

/// v[i] = first + T(i) for every global index i (like thrust::sequence; for floating-point
/// T this is not the repeated ++ of std::iota, which loses precision as it goes). Arithmetic
/// T only. One launch per non-empty segment, 0 bytes moved, one host sync.
template <class T>
void iota(vector<T>& v, const std::type_identity_t<T>& first) {
  static_assert(std::is_arithmetic_v<T>, "shard::iota requires an arithmetic element type");
  auto& ctx = v.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto seg = v.segment(s);
    if (seg.size == 0) return;
    detail::launch(ctx, s, [&](auto& dev) {
      detail::primitive::for_each_index(dev, seg.size, detail::iota_fn<T>{seg.data, first, seg.offset});
    });
  });
}

SHARD_NAMESPACE_END
