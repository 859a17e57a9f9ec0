#pragma once
/// @file transport/copy.hpp
/// The one place where bytes move between shards (and, with transport/host.hpp, between the
/// host and shards). Every byte is counted here, once, in the context's transfer matrix,
/// whatever route it takes.
///
/// Routes between two shards (topology.hpp, link_properties::route()):
/// - local: both shards on one device: a device-to-device copy on the destination's queue;
/// - peer: the destination has peer access to the source: the destination pulls the bytes
///   through the copy engines (cudaMemcpyPeerAsync) on its own queue (a measurement may
///   instead have the source push them, issuer::source, when the source has access);
/// - staged: no peer access: the source copies a chunk into its pinned host chunks, the
///   destination copies it out, chunk after chunk, so the two halves overlap.
///
/// Ordering of an exchange (a list of transfers issued together): every source records one
/// event before anything is issued, every destination waits once for each of its sources and
/// then pulls, and at the end every source waits once for the destinations it sent to (so
/// neither side can reuse or free its buffer too early). No copy waits on another copy of the
/// same exchange: an all-to-all of G shards takes G-1 steps, each destination receiving one
/// block after another, all destinations at once.
///
/// In an SPMD context, transfers between shards of two ranks go through the communicator
/// (transport/ranks.hpp) after the rank's own transfers are queued; an exchange is then
/// collective (every rank issues it) and waits on the host.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/core/plan.hpp>
#include <shard/error.hpp>
#include <shard/stats.hpp>
#include <shard/transport/ranks.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport {

/// Which route a shard-to-shard copy takes. `automatic` follows the topology; `staged`
/// forces the path through host memory (to measure it: `shard-bench p2p`, peer access off).
enum class route { automatic, staged };

/// Whether a shard-to-shard copy orders itself against both shards' queues (`queues`, the
/// default: it starts after the work queued on both, and later work on both waits for it),
/// or leaves that to the caller (`caller`: the copy runs on the issuing queue in its order
/// (the destination's, or the source's with issuer::source), and the caller has already made
/// it wait for the other shard; used to keep back-to-back copies in flight when measuring
/// links, as p2pBandwidthLatencyTest does).
enum class ordering { queues, caller };

/// Which queue issues a copy between two shards: the destination's (it pulls: a p2p read,
/// what exchanges do) or the source's (it pushes: a p2p write, the default of
/// p2pBandwidthLatencyTest and nvbandwidth, which `shard-bench p2p` measures by default).
/// Copies within one device and staged copies are the same either way.
enum class issuer { destination, source };

/// Shard memory -> host memory, queued on the shard. `dst` must stay valid until the shard
/// has run it (the caller waits), and be pinned where the device requires it
/// (detail::device::host_copies_need_pinned_memory): the context's pinned slots, for
/// instance. transport/host.hpp moves whole vectors to and from any host memory.
inline void to_host(detail::context_impl& ctx, std::size_t shard, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  ctx.dev(shard).copy_to_host(dst, src, bytes);
  ctx.count_bytes(static_cast<int>(shard), stats::host, bytes);
}

/// Host memory -> shard memory, queued on the shard; `src` as for to_host (pinned where the
/// device requires it, valid until the shard has run the copy).
inline void from_host(detail::context_impl& ctx, std::size_t shard, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  ctx.dev(shard).copy_from_host(dst, src, bytes);
  ctx.count_bytes(stats::host, static_cast<int>(shard), bytes);
}

/// The buffers an exchange's transfers point into: for each source buffer b, the address of
/// each shard's part (src[b][shard]; only the shards a transfer reads need one) and the size
/// of its elements; the same for the destination buffers. A transfer's (shard, buffer,
/// offset) becomes an address only here, when the copy is issued.
struct buffers {
  std::vector<std::vector<const void*>> src;
  std::vector<std::size_t> src_element_bytes;
  std::vector<std::vector<void*>> dst;
  std::vector<std::size_t> dst_element_bytes;

  /// One source and one destination buffer of T, given per shard.
  template <class T>
  static buffers of(const std::vector<const T*>& from, const std::vector<T*>& to) {
    buffers b;
    b.src.emplace_back(from.begin(), from.end());
    b.dst.emplace_back(to.begin(), to.end());
    b.src_element_bytes.push_back(sizeof(T));
    b.dst_element_bytes.push_back(sizeof(T));
    return b;
  }
  const char* source(const detail::transfer& t) const {
    return static_cast<const char*>(src[t.src_buffer][t.src_shard]) + t.src_offset * src_element_bytes[t.src_buffer];
  }
  char* destination(const detail::transfer& t) const {
    return static_cast<char*>(dst[t.dst_buffer][t.dst_shard]) + t.dst_offset * dst_element_bytes[t.dst_buffer];
  }
  std::size_t bytes(const detail::transfer& t) const { return t.count * src_element_bytes[t.src_buffer]; }
  /// Throws invalid_argument when a transfer names a missing buffer or shard, or joins
  /// buffers of different element sizes.
  void check(const std::vector<detail::transfer>& plan) const {
    for (const auto& t : plan) {
      if (t.src_buffer >= src.size() || t.dst_buffer >= dst.size() || t.src_shard >= src[t.src_buffer].size() ||
          t.dst_shard >= dst[t.dst_buffer].size())
        throw invalid_argument("transport::exchange: a transfer names a buffer or shard the exchange does not have");
      if (src_element_bytes[t.src_buffer] != dst_element_bytes[t.dst_buffer])
        throw invalid_argument("transport::exchange: a transfer joins buffers of different element sizes");
    }
  }
};

namespace detail_copy {

/// The queue of a shard that an exchange's copies, records and waits go to: the shard's own,
/// or its copy queue (detail::device::copy_queue) for an exchange beside the shards' work.
inline detail::device& queue_of(detail::context_impl& ctx, std::size_t shard, bool beside) {
  return beside ? ctx.dev(shard).copy_queue() : ctx.dev(shard);
}

/// Whether a copy between two distinct shards goes through host memory: forced, or the
/// issuing side may not access the other's memory (a pull needs the destination's access to
/// the source, a push the source's access to the destination).
inline bool is_staged(const detail::context_impl& ctx, std::size_t src_shard, std::size_t dst_shard, route how,
                      issuer by = issuer::destination) {
  const bool access = by == issuer::source ? ctx.peer_access(src_shard, dst_shard) : ctx.peer_access(dst_shard, src_shard);
  return !ctx.same_device(src_shard, dst_shard) && (how == route::staged || !access);
}

/// One chunk of a staged copy: source -> the source's pinned chunk (the push, on the source's
/// queue) -> destination (the pull, on its queue). A chunk is refilled only after the pull out
/// of it has finished (its `released` event). The source needs no other ordering: it reads
/// its buffer on its own queue.
struct staged_chunk {
  std::size_t src_shard, dst_shard;
  const char* src;
  char* dst;
  std::size_t bytes;
  detail::staging_pool::chunk* chunk;
  std::shared_ptr<detail::event> pushed;
};

inline void push(detail::context_impl& ctx, staged_chunk& c, bool beside) {
  auto& source = queue_of(ctx, c.src_shard, beside);
  if (c.chunk->released) source.wait(c.chunk->released);
  source.copy_to_host(c.chunk->data, c.src, c.bytes);
  c.pushed = source.record();
}

inline void pull(detail::context_impl& ctx, staged_chunk& c, bool beside) {
  auto& destination = queue_of(ctx, c.dst_shard, beside);
  destination.wait(c.pushed);
  destination.copy_from_host(c.dst, c.chunk->data, c.bytes);
  c.chunk->released = destination.record();
}

/// The staged copies of an exchange. Pulls are held back until a push needs their chunk (or
/// the end), so that each shard's queue runs its pushes before the pulls that wait on other
/// shards' pushes: with one queue per shard, an all-to-all then takes 2(G-1) steps (G-1
/// pushes and G-1 pulls per shard), instead of chaining every shard's push behind its
/// neighbour's pull.
class staged_copies {
 public:
  /// `beside`: on the shards' copy queues.
  explicit staged_copies(detail::context_impl& ctx, bool beside = false) : ctx_(ctx), beside_(beside) {}
  void add(std::size_t src_shard, const char* src, std::size_t dst_shard, char* dst, std::size_t bytes) {
    auto& pool = ctx_.staging(src_shard);
    for (std::size_t offset = 0; offset < bytes; offset += detail::staging_pool::chunk_bytes) {
      staged_chunk c{src_shard, dst_shard, src + offset, dst + offset,
                     std::min(detail::staging_pool::chunk_bytes, bytes - offset), &pool.next(), nullptr};
      for (const auto& waiting : pending_)
        if (waiting.chunk == c.chunk) {
          flush();
          break;
        }
      push(ctx_, c, beside_);
      pending_.push_back(std::move(c));
    }
  }
  /// Issues the pulls held back so far.
  void flush() {
    for (auto& c : pending_) pull(ctx_, c, beside_);
    pending_.clear();
  }

 private:
  detail::context_impl& ctx_;
  bool beside_;
  std::vector<staged_chunk> pending_;
};

/// A copy whose ordering against other queues is already arranged (staged copies: against
/// each other, by `staged`).
inline void issue(detail::context_impl& ctx, const byte_transfer& t, route how, staged_copies& staged,
                  issuer by = issuer::destination) {
  auto& destination = ctx.dev(t.dst_shard);
  auto& source = ctx.dev(t.src_shard);
  if (t.src_shard == t.dst_shard || ctx.same_device(t.src_shard, t.dst_shard)) {
    (by == issuer::source ? source : destination).copy_local(t.dst, t.src, t.bytes);
  } else if (is_staged(ctx, t.src_shard, t.dst_shard, how, by)) {
    staged.add(t.src_shard, static_cast<const char*>(t.src), t.dst_shard, static_cast<char*>(t.dst), t.bytes);
  } else if (by == issuer::source) {
    source.copy_to_peer(destination, t.dst, t.src, t.bytes);
  } else {
    destination.copy_from_peer(t.dst, source, t.src, t.bytes);
  }
}

}  // namespace detail_copy

namespace detail_copy {

/// Issues resolved transfers in the given order, ordered against the shards' queues as the
/// file comment says: one event per source up front, one wait per destination for all its
/// sources before its first pull, one wait per source for all its destinations at the end
/// (device::wait_all: one task each on the host emulation). Counted
/// once per transfer as source -> destination bytes. `beside`: on the shards' copy queues, each
/// first made to wait for the work queued so far on its shard (beside_exchange).
inline void exchange_within(detail::context_impl& ctx, const std::vector<byte_transfer>& transfers, route how,
                            bool beside = false);

inline void exchange_resolved(detail::context_impl& ctx, const std::vector<byte_transfer>& transfers, route how) {
  if (!ctx.spmd()) return exchange_within(ctx, transfers, how);
  std::vector<byte_transfer> here, across;
  for (const auto& t : transfers) {
    if (ctx.rank_of(t.src_shard) != ctx.rank_of(t.dst_shard)) across.push_back(t);
    else if (ctx.local(t.src_shard)) here.push_back(t);
  }
  exchange_within(ctx, here, how);
  if (!across.empty()) exchange_across_ranks(ctx, across);  // the same list on every rank
}

/// exchange_resolved among the shards of this process.
inline void exchange_within(detail::context_impl& ctx, const std::vector<byte_transfer>& transfers, route how,
                            bool beside) {
  const std::size_t g = ctx.size();
  const auto queue = [&](std::size_t s) -> detail::device& { return queue_of(ctx, s, beside); };
  if (beside) {
    // Every shard's copy queue starts after the work queued so far on the shard: its sources
    // are written, its destinations free.
    std::vector<char> involved(g, 0);
    for (const auto& t : transfers)
      if (t.bytes != 0) involved[t.src_shard] = involved[t.dst_shard] = 1;
    for (std::size_t s = 0; s < g; ++s)
      if (involved[s]) queue(s).wait(ctx.dev(s).record());
  }
  std::vector<std::shared_ptr<detail::event>> ready(g);
  std::vector<char> pulls_from(g * g, 0);  // [d * g + s]: d reads s's memory
  std::vector<char> sent_to(g * g, 0);     // [s * g + d]: s sent to d
  for (const auto& t : transfers) {
    if (t.bytes == 0 || t.src_shard == t.dst_shard) continue;
    sent_to[t.src_shard * g + t.dst_shard] = 1;
    // A source's pinned chunks are made before anything is queued: allocating page-locked
    // memory between stream commands would synchronise the streams.
    if (is_staged(ctx, t.src_shard, t.dst_shard, how)) (void)ctx.staging(t.src_shard);
    if (!is_staged(ctx, t.src_shard, t.dst_shard, how)) {
      pulls_from[t.dst_shard * g + t.src_shard] = 1;
      if (!ready[t.src_shard]) ready[t.src_shard] = queue(t.src_shard).record();
    }
  }
  // Every destination waits once for all the sources it pulls from, before its first pull.
  {
    std::vector<std::vector<std::shared_ptr<detail::event>>> sources(g);
    for (std::size_t d = 0; d < g; ++d)
      for (std::size_t s = 0; s < g; ++s)
        if (pulls_from[d * g + s]) sources[d].push_back(ready[s]);
    for (std::size_t d = 0; d < g; ++d)
      if (!sources[d].empty()) queue(d).wait_all(sources[d]);
  }
  // Staged copies are issued as they come (their chunks interleave); the direct ones are
  // batched per destination, in order (one copy_batch each: a single task on the host).
  staged_copies staged(ctx, beside);
  std::vector<std::vector<detail::device::copy_item>> direct(g);
  for (const auto& t : transfers) {
    if (t.bytes == 0) continue;
    ctx.count_bytes(static_cast<int>(t.src_shard), static_cast<int>(t.dst_shard), t.bytes);
    if (t.src_shard != t.dst_shard && is_staged(ctx, t.src_shard, t.dst_shard, how)) {
      staged.add(t.src_shard, static_cast<const char*>(t.src), t.dst_shard, static_cast<char*>(t.dst), t.bytes);
      continue;
    }
    const bool local = t.src_shard == t.dst_shard || ctx.same_device(t.src_shard, t.dst_shard);
    direct[t.dst_shard].push_back(detail::device::copy_item{t.dst, local ? nullptr : &ctx.dev(t.src_shard), t.src, t.bytes});
  }
  for (std::size_t d = 0; d < g; ++d)
    if (!direct[d].empty()) queue(d).copy_batch(direct[d]);
  staged.flush();
  std::vector<std::shared_ptr<detail::event>> done(g);
  for (std::size_t s = 0; s < g; ++s) {
    std::vector<std::shared_ptr<detail::event>> destinations;
    for (std::size_t d = 0; d < g; ++d) {
      if (!sent_to[s * g + d]) continue;
      if (!done[d]) done[d] = queue(d).record();
      destinations.push_back(done[d]);
    }
    if (!destinations.empty()) queue(s).wait_all(destinations);
  }
}

}  // namespace detail_copy

/// Issues the planned transfers in the given order (ordered as detail_copy::exchange_resolved
/// says), their positions turned into addresses through `where` by this engine as it issues
/// them. Counted once per transfer as source -> destination bytes. Throws invalid_argument
/// for a transfer that `where` cannot resolve.
inline void exchange_planned(detail::context_impl& ctx, const std::vector<detail::transfer>& transfers,
                             const buffers& where, route how = route::automatic) {
  where.check(transfers);
  std::vector<byte_transfer> resolved;
  resolved.reserve(transfers.size());
  for (const auto& t : transfers)
    resolved.push_back(byte_transfer{t.src_shard, ctx.local(t.src_shard) ? where.source(t) : nullptr, t.dst_shard,
                                     ctx.local(t.dst_shard) ? where.destination(t) : nullptr, where.bytes(t)});
  detail_copy::exchange_resolved(ctx, resolved, how);
}

/// An exchange beside the shards' work (a stencil's halos while the interiors are computed).
/// The constructor issues the transfers between shards of this process on the shards' copy
/// queues (detail::device::copy_queue), ordered among themselves as exchange_planned says and
/// each copy queue starting after the work queued so far on its shard: what is queued on the
/// shards next runs beside the copies. join() makes every shard the copies involve wait for
/// its copy queue (work queued after join() sees the bytes, and may overwrite the sources),
/// then issues the transfers between ranks of an SPMD context (collective; those do not run
/// beside anything: the host waits for the local shards first, transport/ranks.hpp). Counted
/// as exchange_planned counts. Call join() once, before the step's host sync; a step that
/// throws before it waits for every queue anyway (detail::run_and_wait).
class beside_exchange {
 public:
  beside_exchange(detail::context_impl& ctx, const std::vector<detail::transfer>& transfers, const buffers& where)
      : ctx_(ctx), involved_(ctx.size(), 0) {
    where.check(transfers);
    std::vector<byte_transfer> here;
    for (const auto& t : transfers) {
      const byte_transfer b{t.src_shard, ctx.local(t.src_shard) ? where.source(t) : nullptr, t.dst_shard,
                            ctx.local(t.dst_shard) ? where.destination(t) : nullptr, where.bytes(t)};
      if (ctx.rank_of(t.src_shard) != ctx.rank_of(t.dst_shard)) {
        across_.push_back(b);
      } else if (ctx.local(t.src_shard) && b.bytes != 0) {
        here.push_back(b);
        involved_[t.src_shard] = involved_[t.dst_shard] = 1;
      }
    }
    detail_copy::exchange_within(ctx, here, route::automatic, true);
  }
  beside_exchange(const beside_exchange&) = delete;
  beside_exchange& operator=(const beside_exchange&) = delete;

  void join() {
    for (std::size_t s = 0; s < involved_.size(); ++s)
      if (involved_[s]) ctx_.dev(s).wait(ctx_.dev(s).copy_queue().record());
    if (!across_.empty()) exchange_across_ranks(ctx_, across_);  // the same list on every rank
  }

 private:
  detail::context_impl& ctx_;
  std::vector<char> involved_;
  std::vector<byte_transfer> across_;
};

/// Shard `src_shard` -> shard `dst_shard`, `bytes` bytes, queued (the caller waits). With
/// ordering::queues the copy starts after the work already queued on both shards, and work
/// queued later on either shard starts after it. Counted once as src_shard -> dst_shard
/// bytes, whatever the route. With ordering::caller, `by` picks the queue that issues the copy
/// (issuer::source: the source pushes); ordering::queues always pulls on the destination.
inline void copy(detail::context_impl& ctx, std::size_t src_shard, const void* src, std::size_t dst_shard, void* dst,
                 std::size_t bytes, route how = route::automatic, ordering order = ordering::queues,
                 issuer by = issuer::destination) {
  if (bytes == 0) return;
  // One copy between addresses the caller holds (no plan to resolve).
  const byte_transfer t{src_shard, src, dst_shard, dst, bytes};
  if (order == ordering::queues || ctx.rank_of(src_shard) != ctx.rank_of(dst_shard))
    return detail_copy::exchange_resolved(ctx, {t}, how);
  if (!ctx.local(src_shard)) return;  // another rank's copy
  if (detail_copy::is_staged(ctx, src_shard, dst_shard, how, by)) (void)ctx.staging(src_shard);  // before queuing
  detail_copy::staged_copies staged(ctx);
  detail_copy::issue(ctx, t, how, staged, by);
  staged.flush();
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

/// Executes a list of transfers between two segmented buffers (element counts and offsets),
/// issued in the rotated order: at step k shard g sends to shard (g + k) mod G, so no
/// destination is flooded by every source at once (the order of gossip's and NCCL's
/// all-to-all), and ordered as exchange_planned says.
template <class T>
void exchange(detail::context_impl& ctx, const std::vector<detail::transfer>& plan, const std::vector<const T*>& src,
              const std::vector<T*>& dst, route how = route::automatic) {
  exchange_planned(ctx, rotated(plan, ctx.size()), buffers::of(src, dst), how);
}

}  // namespace transport
SHARD_NAMESPACE_END
