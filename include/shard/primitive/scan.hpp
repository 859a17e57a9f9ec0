#pragma once
/// @file primitive/scan.hpp
/// Primitive family "scan": inclusive_scan(dev, in, out, n, op, carry) writes
/// out[i] = carry op in[0] op ... op in[i], or in[0] op ... op in[i] when `carry` is null;
/// exclusive_scan(dev, in, out, n, op, init) writes out[0] = *init, out[i] = *init op in[0]
/// op ... op in[i-1]. `carry` and `init` point to one value in the shard's memory, read when
/// the scan runs (queued after the work that writes it: cub::FutureValue on a GPU). `in` may
/// equal `out`. Queued. Within a segment the order is the backend's: left to right on the
/// host; CUB's decoupled look-back on a GPU.
#include <shard/config.hpp>
#include <shard/backend/host/primitives/scan.hpp>
#include <shard/primitive/dispatch.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives/scan.hpp>
#endif

SHARD_NAMESPACE_BEGIN
namespace detail {
SHARD_DETAIL_PRIMITIVE(inclusive_scan)
SHARD_DETAIL_PRIMITIVE(exclusive_scan)
}  // namespace detail
SHARD_NAMESPACE_END
