#pragma once
// Glue of sort.hpp and merge.hpp: committing the sort skeleton's merged segments into the
// output vector.
#include <shard/config.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Takes the merged segments (detail::merged_runs: shard d's in buffers[where[d] - 1], none
/// where where[d] == 0) into `out`: segment by segment, the buffer that holds it becomes the
/// vector's (no copy; the vector's old memory goes with the merge's buffers). So until this
/// point, after the merge succeeded on every shard, `out` is as it was: a sort that fails
/// leaves each segment holding its own elements. A vector of the application's memory
/// (vector::wrap) gets a copy instead: one more step, which is not atomic.
template <class T>
void commit_merged(segmented_buffer<T> (&buffers)[2], const std::vector<char>& where, vector<T>& out) {
  auto& mine = vector_access::storage(out);
  if (!mine.borrowed()) {
    for (std::size_t d = 0; d < where.size(); ++d)
      if (where[d] != 0) mine.swap_segment(d, buffers[where[d] - 1]);
    return;
  }
  auto& ctx = out.get_context().impl();
  run_and_wait(ctx, [&] {
    for (auto d : ctx.local_shards())
      if (where[d] != 0 && out.segment_sizes()[d] != 0)
        ctx.dev(d).copy_local(mine.data(d), buffers[where[d] - 1].data(d), out.segment_sizes()[d] * sizeof(T));
  });
}

}  // namespace detail
SHARD_NAMESPACE_END
