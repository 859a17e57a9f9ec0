#pragma once
/// @file core/plan.hpp
/// Exchange plans: which ranges go from which shard to which, to move a global index range
/// from one segmentation to another. Pure functions of sizes, the same on every backend.
#include <shard/config.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// `count` elements from shard `src_shard` at local offset `src_offset` to shard
/// `dst_shard` at local offset `dst_offset`: positions, never addresses, so that a plan means
/// the same on every process. `src_buffer` / `dst_buffer` name which of an exchange's source
/// and destination buffers the offsets are into (0 when there is one of each); the transport
/// turns them into addresses only when it issues the copy (transport::buffers).
struct transfer {
  std::size_t src_shard, src_offset, dst_shard, dst_offset, count;
  std::size_t src_buffer = 0, dst_buffer = 0;
  friend bool operator==(const transfer&, const transfer&) = default;
};

/// Global start of each segment (exclusive prefix sum of the sizes).
inline std::vector<std::size_t> offsets_of(const std::vector<std::size_t>& sizes) {
  std::vector<std::size_t> offsets(sizes.size(), 0);
  for (std::size_t s = 1; s < sizes.size(); ++s) offsets[s] = offsets[s - 1] + sizes[s - 1];
  return offsets;
}

/// Moves the global range [0, count) laid out as `src_sizes` into the layout `dst_sizes`:
/// one transfer per non-empty overlap of a source and a destination segment, in order of
/// the global index.
inline std::vector<transfer> plan_redistribution(const std::vector<std::size_t>& src_sizes,
                                                 const std::vector<std::size_t>& dst_sizes, std::size_t count) {
  std::vector<transfer> plan;
  std::size_t s = 0, d = 0, s_used = 0, d_used = 0, done = 0;
  while (done < count) {
    while (s < src_sizes.size() && s_used == src_sizes[s]) ++s, s_used = 0;
    while (d < dst_sizes.size() && d_used == dst_sizes[d]) ++d, d_used = 0;
    if (s == src_sizes.size() || d == dst_sizes.size()) break;  // count exceeds a layout
    const std::size_t n = std::min({src_sizes[s] - s_used, dst_sizes[d] - d_used, count - done});
    plan.push_back(transfer{s, s_used, d, d_used, n});
    s_used += n;
    d_used += n;
    done += n;
  }
  return plan;
}

}  // namespace detail
SHARD_NAMESPACE_END
