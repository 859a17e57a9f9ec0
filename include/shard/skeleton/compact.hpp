#pragma once
/// @file skeleton/compact.hpp
/// Compaction skeleton (copy_if, remove_if, unique, reduce_by_key): every shard selects its
/// kept elements into scratch memory, stably (primitive family "select"); the counts are
/// gathered (all_gather, one host sync); one exchange moves the kept elements into a new
/// vector laid out evenly, each element at most once, and only those whose shard changes
/// cross a link (plan_redistribution of the counts onto the even layout). Two host syncs.
/// Peak extra memory per shard: its segment's size (the scratch) plus its output segment.
#include <shard/config.hpp>
#include <shard/core/plan.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/distribution.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/select.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/transport/copy.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// kept[s] (first counts[s] elements on shard s, from `first[s]` on) laid out evenly in new
/// shard memory of sum(counts) elements (distribution::even): one exchange, then a wait.
template <class T>
segmented_buffer<T> rebalance(context_impl& ctx, const std::vector<const T*>& first,
                              const std::vector<std::size_t>& counts) {
  std::size_t total = 0;
  for (auto n : counts) total += n;
  segmented_buffer<T> out(ctx, distribution::even().sizes(total, ctx.size()));
  const auto plan = plan_redistribution(counts, out.sizes(), total);
  run_and_wait(ctx, [&] { transport::exchange(ctx, plan, first, out.pointers()); });
  return out;
}

/// The elements in[s][i] with make_flag(s)(i) true, in order, in new shard memory laid out
/// evenly. `prepare()` is queued first (work the flags read, such as a boundary exchange).
template <class T, class MakeFlag, class Prepare>
segmented_buffer<T> compact(context_impl& ctx, const std::vector<const T*>& in, const std::vector<std::size_t>& sizes,
                            MakeFlag make_flag, Prepare&& prepare) {
  segmented_buffer<T> kept(ctx, sizes);
  const auto counts = all_gather<std::size_t>(
                          ctx, 1,
                          [&](std::size_t s, std::size_t* slot) {
                            if (sizes[s] == 0) return false;
                            launch(ctx, s, [&](auto& dev) {
                              primitive::select_flagged(dev, in[s], sizes[s], make_flag(s), kept.data(s), slot);
                            });
                            return true;
                          },
                          seen_by::host, prepare)
                          .host;
  const auto k = kept.pointers();
  return rebalance<T>(ctx, std::vector<const T*>(k.begin(), k.end()), counts);
}

}  // namespace detail
SHARD_NAMESPACE_END
