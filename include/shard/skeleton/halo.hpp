#pragma once
/// @file skeleton/halo.hpp
/// The plan of a halo exchange (shard::stencil): for every shard, the buffer that holds the
/// elements its edge elements' windows reach beyond its segment, where each of them comes
/// from, and which kernels compute what. Pure functions of the sizes, the same on every
/// backend and rank.
#include <shard/config.hpp>
#include <shard/core/plan.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// One shard's part of a halo exchange of radius r > 0 over a segment of n > 0 elements at
/// global offset `offset`. Window positions p are relative to the segment (p = 0 is its first
/// element; p < 0 and p >= n lie beyond it). The shard's halo buffer `extended` holds:
/// - split == false (n <= 4r): the positions [-r, n + r), so every element's window is in it;
/// - split == true: the positions [-r, 2r) (3r elements) then [n - 2r, n + r) (3r elements),
///   the windows of the first r and the last r elements; the n - 2r elements between them
///   (the interior) read their windows from the segment itself.
struct halo_shard {
  std::size_t n = 0, offset = 0, extended = 0;
  bool split = false;
  /// Runs of buffer positions that hold the boundary's constant (global index outside [0, N)
  /// without the periodic mode): (buffer offset, count).
  std::vector<std::pair<std::size_t, std::size_t>> constants;
};

struct halo_plan {
  std::size_t radius = 0;
  std::vector<halo_shard> shards;
  /// Into the halo buffers (destination offsets are buffer positions), from the segments.
  std::vector<transfer> transfers;
};

/// The shard holding global index i (offsets ascending, sizes may be zero; i < total).
inline std::size_t shard_of_index(const std::vector<std::size_t>& offsets, const std::vector<std::size_t>& sizes,
                                  std::size_t i) {
  std::size_t s = static_cast<std::size_t>(std::upper_bound(offsets.begin(), offsets.end(), i) - offsets.begin()) - 1;
  while (sizes[s] == 0 || i >= offsets[s] + sizes[s]) ++s;  // past empty segments at the same offset
  return s;
}

/// The halo plan for segments `sizes` and radius r; `periodic`: beyond the ends the sequence
/// wraps around (index -1 is the last element), else those positions hold a constant.
inline halo_plan plan_halo(const std::vector<std::size_t>& sizes, std::size_t r, bool periodic) {
  halo_plan plan;
  plan.radius = r;
  const auto offsets = offsets_of(sizes);
  std::size_t total = 0;
  for (auto n : sizes) total += n;
  plan.shards.resize(sizes.size());
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    halo_shard& h = plan.shards[s];
    h.n = sizes[s];
    h.offset = offsets[s];
    if (r == 0 || h.n == 0) continue;
    h.split = h.n > 4 * r;
    // (first window position, count) of each chunk of the buffer, in buffer order.
    std::vector<std::pair<std::int64_t, std::size_t>> chunks;
    const auto sr = static_cast<std::int64_t>(r), sn = static_cast<std::int64_t>(h.n);
    if (h.split) chunks = {{-sr, 3 * r}, {sn - 2 * sr, 3 * r}};
    else chunks = {{-sr, h.n + 2 * r}};
    std::size_t at = 0;
    for (const auto& [first, count] : chunks) {
      for (std::size_t k = 0; k < count; ++k, ++at) {
        const std::int64_t g = static_cast<std::int64_t>(h.offset) + first + static_cast<std::int64_t>(k);
        const auto N = static_cast<std::int64_t>(total);
        if ((g < 0 || g >= N) && !periodic) {
          if (!h.constants.empty() && h.constants.back().first + h.constants.back().second == at) {
            ++h.constants.back().second;
          } else {
            h.constants.push_back({at, 1});
          }
          continue;
        }
        const auto source = static_cast<std::size_t>(((g % N) + N) % N);
        const std::size_t from = shard_of_index(offsets, sizes, source);
        const std::size_t local = source - offsets[from];
        if (!plan.transfers.empty()) {
          transfer& last = plan.transfers.back();
          if (last.dst_shard == s && last.src_shard == from && last.dst_offset + last.count == at &&
              last.src_offset + last.count == local) {
            ++last.count;
            continue;
          }
        }
        plan.transfers.push_back(transfer{from, local, s, at, 1});
      }
    }
    h.extended = at;
  }
  return plan;
}

}  // namespace detail
SHARD_NAMESPACE_END
