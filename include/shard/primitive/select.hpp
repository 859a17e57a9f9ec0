#pragma once
/// @file primitive/select.hpp
/// Primitive family "select", stable, queued:
/// - select_flagged(dev, in, n, flag, out, count): copies in[i] for every i < n with flag(i)
///   true to out, in order, and writes their number to *count (shard memory);
/// - reduce_by_key(dev, keys, values, n, keys_out, values_out, count, op): for every run of
///   consecutive equal keys (operator==), its key and the reduction of its values by op;
///   *count = the number of runs.
#include <shard/config.hpp>
#include <shard/backend/host/primitives/select.hpp>
#include <shard/primitive/dispatch.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives/select.hpp>
#endif

SHARD_NAMESPACE_BEGIN
namespace detail {
SHARD_DETAIL_PRIMITIVE(select_flagged)
SHARD_DETAIL_PRIMITIVE(reduce_by_key)
}  // namespace detail
SHARD_NAMESPACE_END
