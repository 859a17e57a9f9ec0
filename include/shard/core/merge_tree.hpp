#pragma once
/// @file core/merge_tree.hpp
/// The plan of a balanced merge tree over R adjacent sorted runs (the backends' merge_runs):
/// level by level, pairs of adjacent runs are merged (a lone last run is copied), between a
/// scratch buffer and the output, arranged so that the last level writes the output. The
/// plan is backend-neutral, so the host tests check the same levels, pairs and buffer
/// parity that the CUDA backend executes with its two-way merges.
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

/// One level: its steps cover [0, n) in order; it writes the output (into_out) or the
/// scratch buffer. Level 0 reads the input, every later level the previous level's buffer.
struct merge_level {
  std::vector<merge_step> steps;
  bool into_out;
};

/// The levels that merge the runs offsets[r] .. offsets[r + 1] (offsets[0] == 0,
/// offsets.back() == n): ceil(log2 R) levels, none for R <= 1. The last level writes the
/// output, so a scratch buffer of n elements is needed only when there are two levels or more.
inline std::vector<merge_level> merge_tree(std::vector<std::size_t> offsets) {
  std::size_t levels = 0;
  for (std::size_t runs = offsets.size() > 0 ? offsets.size() - 1 : 0; runs > 1; runs = (runs + 1) / 2) ++levels;
  std::vector<merge_level> plan;
  bool into_out = levels % 2 == 1;
  while (offsets.size() > 2) {
    merge_level level{{}, into_out};
    std::vector<std::size_t> next{0};
    for (std::size_t r = 0; r + 1 < offsets.size(); r += 2) {
      const std::size_t lo = offsets[r], mid = offsets[r + 1];
      const std::size_t hi = r + 2 < offsets.size() ? offsets[r + 2] : mid;
      level.steps.push_back(merge_step{lo, mid, hi});
      next.push_back(hi);
    }
    plan.push_back(std::move(level));
    offsets = std::move(next);
    into_out = !into_out;
  }
  return plan;
}

}  // namespace detail
SHARD_NAMESPACE_END
