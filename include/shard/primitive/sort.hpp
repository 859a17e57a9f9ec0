#pragma once
/// @file primitive/sort.hpp
/// Primitive family "sort", all stable (equivalent keys keep their order), all queued:
/// - sort(dev, keys, n, comp): keys[0, n) sorted in place;
/// - sort_pairs(dev, keys, values, n, comp): the same, values moved with their keys;
/// - merge_runs(dev, keys, spare, offsets, comp, in_spare): `keys` holds R = offsets.size() - 1
///   adjacent sorted runs [offsets[r], offsets[r+1]); their stable merge (on equivalent keys,
///   the earlier run first) ends in `keys` or, when the call sets in_spare (at once, as it
///   queues the work), in `spare`, a buffer of as many elements that the merge may use; both
///   are overwritten;
/// - merge_runs_pairs(dev, keys, values, spare_keys, spare_values, offsets, comp, in_spare):
///   the same with values;
/// - bounds(dev, sorted, n, needles, m, out, comp, upper): out[j] = lower_bound (upper_bound
///   when `upper`) of needles[j] in sorted[0, n), a position in [0, n).
/// - sort_scratch_bytes(dev, (const K*)0, (const V*)0, n, comp, bytes): the device memory
///   sort / sort_pairs (V = void: keys alone) of n elements takes beyond its buffers (CUB's
///   temporary storage, a radix sort's second buffer; the host emulation holds as much of its
///   capacity while it sorts);
/// - merge_scratch_bytes(...same...): the most merge_runs / merge_runs_pairs of n elements
///   takes beyond its two buffers.
/// Arithmetic keys ordered by shard::less / shard::greater go through a radix sort on both
/// backends; other comparators through a comparison sort.
#include <shard/config.hpp>
#include <shard/backend/host/primitives/sort.hpp>
#include <shard/primitive/dispatch.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives/sort.hpp>
#endif

SHARD_NAMESPACE_BEGIN
namespace detail {
SHARD_DETAIL_PRIMITIVE(sort)
SHARD_DETAIL_PRIMITIVE(sort_pairs)
SHARD_DETAIL_PRIMITIVE(merge_runs)
SHARD_DETAIL_PRIMITIVE(merge_runs_pairs)
SHARD_DETAIL_PRIMITIVE(bounds)
SHARD_DETAIL_PRIMITIVE(sort_scratch_bytes)
SHARD_DETAIL_PRIMITIVE(merge_scratch_bytes)
}  // namespace detail
SHARD_NAMESPACE_END
