#pragma once
/// @file primitive/transform.hpp
/// Primitive family "transform": transform(dev, in, out, n, op) writes out[i] = op(in[i]);
/// transform(dev, a, b, out, n, op) writes out[i] = op(a[i], b[i]), for i < n. Queued.
#include <shard/config.hpp>
#include <shard/backend/host/primitives/transform.hpp>
#include <shard/primitive/dispatch.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives/transform.hpp>
#endif

SHARD_NAMESPACE_BEGIN
namespace detail {
SHARD_DETAIL_PRIMITIVE(transform)
}  // namespace detail
SHARD_NAMESPACE_END
