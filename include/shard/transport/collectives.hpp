#pragma once
/// @file transport/collectives.hpp
/// Collectives over a context's shards: all-to-all(v), all-gather, broadcast, and NCCL's
/// reduce-scatter / all-reduce (sum) for skeleton/collectives.hpp, which folds on the
/// copies engine itself. Every NCCL call of shard is in this layer, with its byte accounting.
/// Each collective runs on one of two engines, chosen in one place (on_engine):
/// - copies (transport/engines/copies.hpp): shard-to-shard copies (transport/copy.hpp: local,
///   peer or staged per pair), issued in a rotated order; works on every context and backend;
/// - nccl (transport/engines/nccl.hpp): NCCL, when compiled in (SHARD_HAS_NCCL) and every
///   shard is a distinct GPU.
/// `engine::automatic` takes NCCL when it can, copies otherwise. Both count the same bytes
/// per (source, destination) pair in stats, own blocks included (as diagonal bytes).
///
/// Buffers are per-shard pointers into shard memory (`send[s]`, `recv[s]` on shard s). On
/// both engines the work is queued on the shards and the caller waits once
/// (detail::run_and_wait), which polls NCCL's asynchronous errors when NCCL is in use.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/core/plan.hpp>
#include <shard/error.hpp>
#include <shard/functional.hpp>
#include <shard/transport/copy.hpp>
#include <shard/transport/engines/copies.hpp>
#include <shard/transport/engines/nccl.hpp>

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport {

/// Which engine a collective runs on.
enum class engine { automatic, copies, nccl };

/// Whether NCCL can run this context's collectives (compiled in, CUDA shards on distinct GPUs).
inline bool nccl_available(const detail::context_impl& ctx) {
#if SHARD_HAS_NCCL
  return nccl::usable(ctx);
#else
  (void)ctx;
  return false;
#endif
}

namespace detail_collectives {

inline bool use_nccl(const detail::context_impl& ctx, engine e, const char* what) {
  if (e == engine::nccl && !nccl_available(ctx))
    throw invalid_argument(std::string(what) +
                           ": engine::nccl needs NCCL compiled in (shard::nccl) and every shard on a distinct GPU");
  return e == engine::nccl || (e == engine::automatic && nccl_available(ctx));
}

/// Runs `collective(e)` on the engine `how` picks: engines::nccl::engine or engines::copies,
/// the one place where the choice is made.
template <class Collective>
void on_engine(detail::context_impl& ctx, engine how, const char* what, Collective&& collective) {
  if (use_nccl(ctx, how, what)) {
#if SHARD_HAS_NCCL
    nccl::engine e(ctx);
    collective(e);
    return;
#endif
  }
  engines::copies e(ctx);
  collective(e);
}

inline void check_shards(const detail::context_impl& ctx, std::size_t n, const char* what, const char* name) {
  if (n != ctx.size())
    throw invalid_argument(std::string(what) + ": " + name + " has " + std::to_string(n) +
                           " buffers, the context has " + std::to_string(ctx.size()) + " shards");
}

}  // namespace detail_collectives

/// The transfers of an all-to-all(v) with packed blocks: `counts[s * G + d]` elements go
/// from shard s to shard d. Shard s's send buffer holds its blocks for d = 0..G-1 one after
/// the other; shard d's receive buffer gets the blocks from s = 0..G-1 one after the other.
inline std::vector<detail::transfer> all_to_all_plan(const std::vector<std::size_t>& counts, std::size_t g) {
  std::vector<detail::transfer> plan;
  std::vector<std::size_t> send_offset(g, 0), recv_offset(g, 0);
  for (std::size_t s = 0; s < g; ++s)
    for (std::size_t d = 0; d < g; ++d) {
      const std::size_t n = counts[s * g + d];
      if (n != 0) plan.push_back(detail::transfer{s, send_offset[s], d, recv_offset[d], n});
      send_offset[s] += n;
      recv_offset[d] += n;
    }
  return plan;
}

/// All-to-all with per-pair counts (MPI_Alltoallv with packed blocks; see all_to_all_plan).
/// `send[s]` holds sum_d counts[s*G+d] elements, `recv[d]` room for sum_s counts[s*G+d].
/// Moves each block once, in a rotated order; zero-length blocks move nothing.
/// Throws invalid_argument when the lists do not match the context.
template <class T>
void all_to_all_v(detail::context_impl& ctx, const std::vector<const T*>& send, const std::vector<std::size_t>& counts,
                  const std::vector<T*>& recv, engine how = engine::automatic) {
  const std::size_t g = ctx.size();
  detail_collectives::check_shards(ctx, send.size(), "all_to_all_v", "send");
  detail_collectives::check_shards(ctx, recv.size(), "all_to_all_v", "recv");
  if (counts.size() != g * g)
    throw invalid_argument("all_to_all_v: counts has " + std::to_string(counts.size()) + " entries, expected " +
                           std::to_string(g * g) + " (shards x shards)");
  const auto plan = all_to_all_plan(counts, g);
  detail_collectives::on_engine(ctx, how, "all_to_all_v", [&](auto& e) { e.all_to_all_v(plan, send, recv); });
}

/// All-to-all with `count` elements per pair: block d of send[s] goes to block s of recv[d].
template <class T>
void all_to_all(detail::context_impl& ctx, const std::vector<const T*>& send, std::size_t count,
                const std::vector<T*>& recv, engine how = engine::automatic) {
  all_to_all_v(ctx, send, std::vector<std::size_t>(ctx.size() * ctx.size(), count), recv, how);
}

/// Every shard's `count` elements to every shard: recv[d] gets send[0..G-1] in shard order
/// (G * count elements). `send[s]` may point into recv[s] at block s (in place).
template <class T>
void all_gather(detail::context_impl& ctx, const std::vector<const T*>& send, std::size_t count,
                const std::vector<T*>& recv, engine how = engine::automatic) {
  detail_collectives::check_shards(ctx, send.size(), "all_gather", "send");
  detail_collectives::check_shards(ctx, recv.size(), "all_gather", "recv");
  if (count == 0) return;
  detail_collectives::on_engine(ctx, how, "all_gather", [&](auto& e) { e.all_gather(send, count, recv); });
}

/// `count` elements of buffers[root] to buffers[d] of every other shard.
template <class T>
void broadcast(detail::context_impl& ctx, std::size_t root, const std::vector<T*>& buffers, std::size_t count,
               engine how = engine::automatic) {
  const std::size_t g = ctx.size();
  detail_collectives::check_shards(ctx, buffers.size(), "broadcast", "buffers");
  if (root >= g)
    throw invalid_argument("broadcast: root shard " + std::to_string(root) + " out of range (the context has " +
                           std::to_string(g) + " shards)");
  if (count == 0) return;
  detail_collectives::on_engine(ctx, how, "broadcast", [&](auto& e) { e.broadcast(root, buffers, count); });
}

/// Whether NCCL can compute `Op` over T at all: shard::plus over a type NCCL knows (false
/// without NCCL).
template <class T, class Op>
constexpr bool nccl_can_reduce() {
#if SHARD_HAS_NCCL
  if constexpr (std::is_same_v<Op, shard::plus<>> || std::is_same_v<Op, shard::plus<T>>)
    return nccl::data_type<T>() != ncclNumTypes;
  else
    return false;
#else
  return false;
#endif
}

/// Whether a sum over T may run on NCCL with engine `how`. NCCL's reduction order depends on
/// its algorithm (ring, tree, NVLS) and the GPU count, so floating-point sums would differ from
/// shard's documented shard-order fold and could change with the machine: `automatic` uses
/// NCCL for integer sums only (exact in any order), and floating point takes NCCL only when
/// the caller asks for engine::nccl, giving up that guarantee (docs/design.md).
template <class T>
constexpr bool nccl_sum_allowed(engine how) {
  return how == engine::nccl || (how == engine::automatic && std::is_integral_v<T>);
}

#if SHARD_HAS_NCCL
/// recv[d] = sum over s of block d of send[s] (count elements per block), on NCCL. Queued; the
/// caller waits. Counted as the copies engine's all-to-all of blocks would move it.
template <class T>
void nccl_reduce_scatter_sum(detail::context_impl& ctx, const std::vector<const T*>& send, const std::vector<T*>& recv,
                             std::size_t count) {
  static_assert(nccl::data_type<T>() != ncclNumTypes, "nccl_reduce_scatter_sum: NCCL has no type for T");
  const std::size_t g = ctx.size();
  nccl::group(ctx, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
    return ncclReduceScatter(send[shard], recv[shard], count, nccl::data_type<T>(), ncclSum, comm, stream);
  });
  for (std::size_t s = 0; s < g; ++s)
    for (std::size_t d = 0; d < g; ++d) ctx.count_bytes(static_cast<int>(s), static_cast<int>(d), count * sizeof(T));
}

/// buffers[s] = sum over all shards' buffers (count elements), in place, on NCCL. Queued; the
/// caller waits. Counted as the copies engine's two phases move it (`block_sizes`: the G
/// blocks the buffer splits into).
template <class T>
void nccl_all_reduce_sum(detail::context_impl& ctx, const std::vector<T*>& buffers, std::size_t count,
                         const std::vector<std::size_t>& block_sizes) {
  static_assert(nccl::data_type<T>() != ncclNumTypes, "nccl_all_reduce_sum: NCCL has no type for T");
  const std::size_t g = ctx.size();
  nccl::group(ctx, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
    return ncclAllReduce(buffers[shard], buffers[shard], count, nccl::data_type<T>(), ncclSum, comm, stream);
  });
  for (std::size_t s = 0; s < g; ++s)
    for (std::size_t d = 0; d < g; ++d)
      ctx.count_bytes(static_cast<int>(s), static_cast<int>(d),
                      (s == d ? block_sizes[s] : block_sizes[d] + block_sizes[s]) * sizeof(T));
}
#endif

}  // namespace transport
SHARD_NAMESPACE_END
