#pragma once
/// @file primitive/for_each.hpp
/// Primitive family "for": for_each(dev, p, n, f) calls f(p[i]) for i < n (f may modify the
/// element); for_each_index(dev, n, f) calls f(i) for i < n. Queued on the shard.
#include <shard/config.hpp>
#include <shard/backend/host/primitives/for_each.hpp>
#include <shard/primitive/dispatch.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives/for_each.hpp>
#endif

SHARD_NAMESPACE_BEGIN
namespace detail {
SHARD_DETAIL_PRIMITIVE(for_each)
SHARD_DETAIL_PRIMITIVE(for_each_index)
}  // namespace detail
SHARD_NAMESPACE_END
