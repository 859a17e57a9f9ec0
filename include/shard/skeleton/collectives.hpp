#pragma once
/// @file skeleton/collectives.hpp
/// Reducing collectives over per-shard buffers: reduce-scatter and all-reduce. On the
/// copies engine they are an all-to-all of blocks (transport/collectives.hpp) followed by a
/// fold of the G blocks on each shard in shard order, so the result is the same on every run
/// and every backend; all-reduce then all-gathers the reduced blocks. Each shard sends and
/// receives (G-1)/G of the buffer per phase: the traffic of NCCL's ring, without its G-1
/// sequential steps. Sums of integers run on NCCL when it is available (ncclReduceScatter /
/// ncclAllReduce, in transport/); floating-point sums only when the caller asks for
/// engine::nccl (transport::nccl_sum_allowed), since NCCL's order is not shard's.
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/transport/collectives.hpp>

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

namespace reducing {

/// The engine decision of a reducing collective: NCCL when the operator and type allow it,
/// the order allows it (transport::nccl_sum_allowed) and the context can run it.
template <class T, class Op>
bool use_nccl(const context_impl& ctx, transport::engine how, const char* what) {
  constexpr bool reducible = transport::nccl_can_reduce<T, Op>();
  if (how == transport::engine::nccl && !reducible)
    throw invalid_argument(std::string(what) + ": engine::nccl needs shard::plus over an arithmetic type NCCL knows");
  if (!reducible || !transport::nccl_sum_allowed<T>(how)) return false;
  return transport::detail_collectives::use_nccl(ctx, how, what);
}

/// Sizes of the G blocks an all-reduce of `count` elements splits into (differ by at most 1).
inline std::vector<std::size_t> block_sizes(std::size_t count, std::size_t g) {
  std::vector<std::size_t> sizes(g, count / g);
  for (std::size_t b = 0; b < count % g; ++b) ++sizes[b];
  return sizes;
}

/// Queues, on every shard d with sizes[d] != 0, out[d][i] = fold of the G blocks of
/// staging[d] (sizes[d] elements each) in shard order.
template <class T, class Op>
void enqueue_fold(context_impl& ctx, const std::vector<T*>& staging, const std::vector<std::size_t>& sizes,
                  const std::vector<T*>& out, Op op) {
  enqueue_segments(ctx, sizes, [&](auto& dev, std::size_t d) {
    primitive::for_each_index(dev, sizes[d], fold_blocks_fn<T, Op>{staging[d], sizes[d], ctx.size(), out[d], op});
  });
}

}  // namespace reducing

/// Queues reduce_scatter (below) without waiting: called inside run_and_wait. `scratch` holds
/// the blocks each shard receives; it is (re)allocated here when its sizes differ, so a caller
/// that queues many calls back to back (shard-bench: timed iterations with one wait at the
/// end) passes the same one and allocates once.
template <class T, class Op>
void enqueue_reduce_scatter(context_impl& ctx, const std::vector<const T*>& send, const std::vector<T*>& recv,
                            std::size_t count, Op op, transport::engine how, segmented_buffer<T>& scratch) {
  const std::size_t g = ctx.size();
  transport::detail_collectives::check_shards(ctx, send.size(), "reduce_scatter", "send");
  transport::detail_collectives::check_shards(ctx, recv.size(), "reduce_scatter", "recv");
  if (count == 0) return;
  if (reducing::use_nccl<T, Op>(ctx, how, "reduce_scatter")) {
#if SHARD_HAS_NCCL
    transport::nccl_reduce_scatter_sum(ctx, send, recv, count);
#endif
    return;
  }
  const std::vector<std::size_t> sizes(g, g * count);
  if (scratch.sizes() != sizes) scratch = segmented_buffer<T>(ctx, sizes);
  transport::all_to_all(ctx, send, count, scratch.pointers(), transport::engine::copies);
  reducing::enqueue_fold(ctx, scratch.pointers(), std::vector<std::size_t>(g, count), recv, op);
}

/// recv[d][i] = send[0][d*count + i] op send[1][d*count + i] op ... (shard order), for
/// every shard d; send[s] has G * count elements, recv[d] count. Blocks until done.
template <class T, class Op>
void reduce_scatter(context_impl& ctx, const std::vector<const T*>& send, const std::vector<T*>& recv, std::size_t count,
                    Op op, transport::engine how = transport::engine::automatic) {
  transport::detail_collectives::check_shards(ctx, send.size(), "reduce_scatter", "send");
  transport::detail_collectives::check_shards(ctx, recv.size(), "reduce_scatter", "recv");
  if (count == 0) return;
  segmented_buffer<T> scratch;
  run_and_wait(ctx, [&] { enqueue_reduce_scatter(ctx, send, recv, count, op, how, scratch); });
}

/// Queues all_reduce (below) without waiting: called inside run_and_wait; `scratch` as for
/// enqueue_reduce_scatter.
template <class T, class Op>
void enqueue_all_reduce(context_impl& ctx, const std::vector<T*>& buffers, std::size_t count, Op op,
                        transport::engine how, segmented_buffer<T>& scratch) {
  const std::size_t g = ctx.size();
  transport::detail_collectives::check_shards(ctx, buffers.size(), "all_reduce", "buffers");
  if (count == 0 || g == 1) return;
  const auto sizes = reducing::block_sizes(count, g);
  if (reducing::use_nccl<T, Op>(ctx, how, "all_reduce")) {
#if SHARD_HAS_NCCL
    transport::nccl_all_reduce_sum(ctx, buffers, count, sizes);
#endif
    return;
  }
  const auto offsets = offsets_of(sizes);
  std::vector<const T*> sources(buffers.begin(), buffers.end());
  std::vector<std::size_t> counts(g * g);
  for (std::size_t s = 0; s < g; ++s)
    for (std::size_t d = 0; d < g; ++d) counts[s * g + d] = sizes[d];
  std::vector<T*> own_block(g);
  for (std::size_t d = 0; d < g; ++d) own_block[d] = buffers[d] + offsets[d];
  std::vector<std::size_t> block_elements(g);
  for (std::size_t d = 0; d < g; ++d) block_elements[d] = g * sizes[d];
  if (scratch.sizes() != block_elements) scratch = segmented_buffer<T>(ctx, block_elements);
  // Block d of every buffer to shard d (its own block too, so the fold reads one array),
  transport::all_to_all_v(ctx, sources, counts, scratch.pointers(), transport::engine::copies);
  // folded there in shard order,
  reducing::enqueue_fold(ctx, scratch.pointers(), sizes, own_block, op);
  // and the reduced block d from shard d to every other shard.
  std::vector<transfer> plan;
  for (std::size_t d = 0; d < g; ++d)
    for (std::size_t e = 0; e < g; ++e)
      if (e != d && sizes[d] != 0) plan.push_back(transfer{d, offsets[d], e, offsets[d], sizes[d]});
  transport::exchange(ctx, plan, sources, buffers);
}

/// buffers[s][i] = buffers[0][i] op buffers[1][i] op ... (shard order) on every shard s,
/// in place; every buffer has `count` elements. Blocks until done. After a failure the
/// buffers' contents are unspecified (in place, some blocks may already be folded).
template <class T, class Op>
void all_reduce(context_impl& ctx, const std::vector<T*>& buffers, std::size_t count, Op op,
                transport::engine how = transport::engine::automatic) {
  transport::detail_collectives::check_shards(ctx, buffers.size(), "all_reduce", "buffers");
  if (count == 0 || ctx.size() == 1) return;
  segmented_buffer<T> scratch;
  run_and_wait(ctx, [&] { enqueue_all_reduce(ctx, buffers, count, op, how, scratch); });
}

}  // namespace detail
SHARD_NAMESPACE_END
