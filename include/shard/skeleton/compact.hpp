#pragma once
/// @file detail/skeleton/compact.hpp
/// Compaction skeleton (copy_if, remove_if, unique, reduce_by_key): every shard selects its
/// kept elements into scratch memory, stably (primitive family "select"); the counts are
/// gathered (all_gather, one host sync); one exchange moves the kept elements into a new
/// vector laid out evenly, each element at most once, and only those whose shard changes
/// cross a link (plan_redistribution of the counts onto the even layout). Two host syncs.
/// Peak extra memory per shard: its segment's size (the scratch) plus its output segment.
#include <shard/config.hpp>
#include <shard/detail/primitives/select.hpp>
#include <shard/detail/segmented_buffer.hpp>
#include <shard/detail/skeleton/metadata.hpp>
#include <shard/detail/skeleton/plan.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/distribution.hpp>
#include <shard/transport/copy.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// kept[s] (first counts[s] elements on shard s, from `first[s]` on) laid out evenly in a new
/// vector of sum(counts) elements: one exchange, then a wait.
template <class T>
vector<T> rebalance(const context& c, const std::vector<const T*>& first, const std::vector<std::size_t>& counts) {
  std::size_t total = 0;
  for (auto n : counts) total += n;
  auto out = vector_access::uninitialized<T>(c, distribution::even().sizes(total, c.size()), distribution::even());
  const auto plan = plan_redistribution(counts, out.segment_sizes(), total);
  auto& ctx = c.impl();
  run_and_wait(ctx, [&] { transport::exchange(ctx, plan, first, pointers(out)); });
  return out;
}

/// The elements in[s][i] with make_flag(s)(i) true, in order, as a new evenly laid out vector.
/// `prepare()` is queued first (work the flags read, such as a boundary exchange).
template <class T, class MakeFlag, class Prepare>
vector<T> compact(const context& c, const std::vector<const T*>& in, const std::vector<std::size_t>& sizes,
                  MakeFlag make_flag, Prepare&& prepare) {
  auto& ctx = c.impl();
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
  return rebalance<T>(c, std::vector<const T*>(k.begin(), k.end()), counts);
}

}  // namespace detail
SHARD_NAMESPACE_END
