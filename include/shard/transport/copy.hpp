#pragma once
/// @file transport/copy.hpp
/// The one place where bytes move between the host and shards and between shards. Every
/// byte is counted here, once, in the context's transfer matrix, whatever route it takes.
///
/// Routes between two shards (topology.hpp, link_properties::route()):
/// - local: both shards on one device: a device-to-device copy on the destination's queue;
/// - peer: peer access enabled: the destination pulls the bytes through the copy engines
///   (cudaMemcpyPeerAsync), ordered after the source's queued work by an event;
/// - staged: no peer access: the source copies a chunk into pinned host memory, the
///   destination copies it out, chunk after chunk through a small pool of buffers, so the
///   two halves overlap.
#include <shard/config.hpp>
#include <shard/detail/context_impl.hpp>
#include <shard/detail/skeleton/plan.hpp>
#include <shard/stats.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport {

/// Which route a shard-to-shard copy takes. `automatic` follows the topology; `staged`
/// forces the path through host memory (to measure it: `shard-bench p2p`, peer access off).
enum class route { automatic, staged };

/// Whether a shard-to-shard copy orders itself against both shards' queues (`queues`, the
/// default: it starts after the work queued on both, and later work on both waits for it),
/// or leaves that to the caller (`caller`: the copy runs on the destination's queue in its
/// order, and the caller has already made it wait for the source; used to keep back-to-back
/// copies in flight when measuring links, as p2pBandwidthLatencyTest does).
enum class ordering { queues, caller };

/// Host memory -> shard memory, queued on the shard. `src` must stay valid until the shard
/// has run it (the caller waits).
inline void from_host(detail::context_impl& ctx, std::size_t shard, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  ctx.dev(shard).copy_from_host(dst, src, bytes);
  ctx.count_bytes(stats::host, static_cast<int>(shard), bytes);
}

/// Shard memory -> host memory, queued on the shard.
inline void to_host(detail::context_impl& ctx, std::size_t shard, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  ctx.dev(shard).copy_to_host(dst, src, bytes);
  ctx.count_bytes(static_cast<int>(shard), stats::host, bytes);
}

namespace detail_copy {

/// source -> pinned chunk (on the source's queue) -> destination (on its queue), per chunk.
/// A chunk is refilled only after the copy out of it has finished (its `released` event).
inline void staged(detail::context_impl& ctx, detail::device& source, const char* src, detail::device& destination,
                   char* dst, std::size_t bytes) {
  auto& pool = ctx.staging();
  for (std::size_t offset = 0; offset < bytes; offset += detail::staging_pool::chunk_bytes) {
    const std::size_t n = std::min(detail::staging_pool::chunk_bytes, bytes - offset);
    auto& chunk = pool.next();
    if (chunk.released) source.wait(chunk.released);
    source.copy_to_host(chunk.data, src + offset, n);
    destination.wait(source.record());
    destination.copy_from_host(dst + offset, chunk.data, n);
    chunk.released = destination.record();
  }
}

}  // namespace detail_copy

/// Shard `src_shard` -> shard `dst_shard`, `bytes` bytes, queued (the caller waits). The
/// copy starts after the work already queued on both shards; work queued later on either
/// shard starts after it, so neither side can overwrite or free the buffers too early.
/// Counted once as src_shard -> dst_shard bytes, whatever the route.
inline void copy(detail::context_impl& ctx, std::size_t src_shard, const void* src, std::size_t dst_shard, void* dst,
                 std::size_t bytes, route how = route::automatic, ordering order = ordering::queues) {
  if (bytes == 0) return;
  auto& source = ctx.dev(src_shard);
  auto& destination = ctx.dev(dst_shard);
  const bool ordered = order == ordering::queues;
  if (src_shard == dst_shard) {
    destination.copy_local(dst, src, bytes);
  } else if (how == route::automatic && ctx.peer_access(src_shard, dst_shard)) {
    if (ordered) destination.wait(source.record());
    if (ctx.same_device(src_shard, dst_shard)) destination.copy_local(dst, src, bytes);
    else destination.copy_from_peer(dst, source, src, bytes);
    if (ordered) source.wait(destination.record());
  } else {
    detail_copy::staged(ctx, source, static_cast<const char*>(src), destination, static_cast<char*>(dst), bytes);
    if (ordered) source.wait(destination.record());
  }
  ctx.count_bytes(static_cast<int>(src_shard), static_cast<int>(dst_shard), bytes);
}

/// The transfers of `plan` in the order an exchange issues them: step k = 0..G-1 takes the
/// transfers from shard g to shard (g + k) mod G (each step in plan order).
inline std::vector<detail::transfer> rotated(const std::vector<detail::transfer>& plan, std::size_t g) {
  std::vector<detail::transfer> order;
  order.reserve(plan.size());
  for (std::size_t step = 0; step < g; ++step)
    for (const auto& t : plan)
      if ((t.src_shard + step) % g == t.dst_shard) order.push_back(t);
  return order;
}

/// Executes a list of transfers between two segmented buffers. Transfers are issued in a
/// rotated order: at step k, shard g sends to shard (g + k) mod G, so no destination is
/// flooded by every source at once (the order of gossip's and NCCL's all-to-all).
template <class T>
void exchange(detail::context_impl& ctx, const std::vector<detail::transfer>& plan, const std::vector<const T*>& src,
              const std::vector<T*>& dst, route how = route::automatic) {
  for (const auto& t : rotated(plan, ctx.size()))
    copy(ctx, t.src_shard, src[t.src_shard] + t.src_offset, t.dst_shard, dst[t.dst_shard] + t.dst_offset,
         t.count * sizeof(T), how);
}

}  // namespace transport
SHARD_NAMESPACE_END
