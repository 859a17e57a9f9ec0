#pragma once
/// @file for_each.hpp
/// shard::for_each
#include <shard/config.hpp>
#include <shard/core/run.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/vector.hpp>

SHARD_NAMESPACE_BEGIN

/// Calls f(x) on every element x (by reference: f may modify it), on the shard that holds
/// it. The order of the calls is unspecified. `f` must be callable on the device in a CUDA
/// translation unit (SHARD_HOST_DEVICE). One launch per non-empty segment, 0 bytes moved,
/// one host sync.
template <class T, class F>
void for_each(vector<T>& v, F f) {
  const detail::call_scope scope(v.get_context().impl(), "shard::for_each", v);
  const auto g = detail::callable(f);
  detail::elementwise(v.get_context().impl(), v.segment_sizes(), [&](auto& dev, std::size_t s) {
    const auto seg = v.segment(s);
    detail::primitive::for_each(dev, seg.data, seg.size, g);
  });
}

SHARD_NAMESPACE_END
