#pragma once
/// @file core/merge_tree.hpp
/// The plan of a balanced merge tree over R adjacent sorted runs (the backends' merge_runs):
/// level by level, pairs of adjacent runs are merged (a lone last run is copied), back and
/// forth between the runs' own buffer and a spare buffer of the same size, so that no third
/// buffer is needed; the merged sequence ends in whichever the last level wrote. The plan is
/// backend-neutral, so the host tests check the same levels, pairs and buffer parity that the
/// CUDA backend executes with its two-way merges.
#include <shard/config.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Merge [lo, mid) and [mid, hi) of the level's source into [lo, hi) of its destination
/// (hi == mid: copy [lo, mid)).
struct merge_step {
  std::size_t lo, mid, hi;
};

/// One level: its steps cover [0, n) in order; it reads one buffer and writes the other:
/// the spare (into_spare) or the runs' own. Level 0 reads the runs and writes the spare.
struct merge_level {
  std::vector<merge_step> steps;
  bool into_spare;
};

/// The levels that merge the runs offsets[r] .. offsets[r + 1] (offsets[0] == 0,
/// offsets.back() == n): ceil(log2 R) levels, none for R <= 1, alternating from the runs'
/// buffer into the spare and back (result_in_spare says where the merge ends).
inline std::vector<merge_level> merge_tree(std::vector<std::size_t> offsets) {
  std::vector<merge_level> plan;
  bool into_spare = true;
  while (offsets.size() > 2) {
    merge_level level{{}, into_spare};
    std::vector<std::size_t> next{0};
    for (std::size_t r = 0; r + 1 < offsets.size(); r += 2) {
      const std::size_t lo = offsets[r], mid = offsets[r + 1];
      const std::size_t hi = r + 2 < offsets.size() ? offsets[r + 2] : mid;
      level.steps.push_back(merge_step{lo, mid, hi});
      next.push_back(hi);
    }
    plan.push_back(std::move(level));
    offsets = std::move(next);
    into_spare = !into_spare;
  }
  return plan;
}

/// Whether the plan's merged sequence ends in the spare buffer (an odd number of levels).
inline bool result_in_spare(const std::vector<merge_level>& plan) noexcept { return plan.size() % 2 == 1; }

}  // namespace detail
SHARD_NAMESPACE_END
