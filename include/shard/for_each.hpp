#pragma once
/// @file for_each.hpp
/// shard::for_each
#include <shard/config.hpp>
#include <shard/detail/primitives.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/vector.hpp>

SHARD_NAMESPACE_BEGIN

/// Calls f(x) on every element x (by reference: f may modify it), on the shard that holds
/// it. The order of the calls is unspecified. One launch per non-empty segment, 0 bytes
/// moved, one host sync.
template <class T, class F>
void for_each(vector<T>& v, F f) {
  auto& ctx = v.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto seg = v.segment(s);
    if (seg.size == 0) return;
    detail::launch(ctx, s, [&](auto& dev) { detail::primitive::for_each(dev, seg.data, seg.size, f); });
  });
}

SHARD_NAMESPACE_END
