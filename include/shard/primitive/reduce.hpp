#pragma once
/// @file primitive/reduce.hpp
/// Primitive family "reduce": reduce(dev, in, n, out, init, op) writes
/// *out = init op in[0] op ... op in[n-1]; transform_reduce_index(dev, n, out, init, rop, f)
/// writes *out = init rop f(0) rop ... rop f(n-1). `out` is shard memory. Queued. The
/// operator must be commutative as well as associative: the order of the operands is the
/// backend's (docs/design.md; cub::DeviceReduce "does not support non-commutative operators").
/// reduce_in_order(dev, in, n, op, store), n >= 1, calls store(in[0] op ... op in[n-1]) on the
/// device with the operands in order (any associative operator; CUB's scan on a GPU).
/// sum_exactly(dev, n, f, bins) writes the exact bins of f(0), ..., f(n-1) (f returns float
/// or double; core/exact_sum.hpp) into the shard memory bins[0, exact_bins<U>::count).
#include <shard/config.hpp>
#include <shard/backend/host/primitives/reduce.hpp>
#include <shard/primitive/dispatch.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives/reduce.hpp>
#endif

SHARD_NAMESPACE_BEGIN
namespace detail {
SHARD_DETAIL_PRIMITIVE(reduce)
SHARD_DETAIL_PRIMITIVE(transform_reduce_index)
SHARD_DETAIL_PRIMITIVE(reduce_in_order)
SHARD_DETAIL_PRIMITIVE(sum_exactly)
}  // namespace detail
SHARD_NAMESPACE_END
