#pragma once
/// @file detail/skeleton/collectives.hpp
/// Reducing collectives over per-shard buffers: reduce-scatter and all-reduce. On the
/// copies engine they are an all-to-all of blocks (transport/collectives.hpp) followed by a
/// fold of the G blocks on each shard in shard order, so the result is the same on every run
/// and every backend; all-reduce then all-gathers the reduced blocks. Each shard sends and
/// receives (G-1)/G of the buffer per phase: the traffic of NCCL's ring, without its G-1
/// sequential steps. With NCCL (engine automatic or nccl, operator shard::plus, a type NCCL
/// knows) they are ncclReduceScatter / ncclAllReduce.
#include <shard/config.hpp>
#include <shard/detail/buffer.hpp>
#include <shard/detail/functors.hpp>
#include <shard/detail/primitives.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/functional.hpp>
#include <shard/transport/collectives.hpp>

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

namespace detail_reducing {

template <class T, class Op>
constexpr bool nccl_reducible() {
#if SHARD_HAS_NCCL
  return std::is_same_v<Op, shard::plus<>> || std::is_same_v<Op, shard::plus<T>>
             ? transport::nccl::data_type<T>() != ncclNumTypes
             : false;
#else
  return false;
#endif
}

template <class T, class Op>
bool use_nccl(const context_impl& ctx, transport::engine how, const char* what) {
  if (how == transport::engine::nccl && !nccl_reducible<T, Op>())
    throw invalid_argument(std::string(what) + ": engine::nccl needs shard::plus over an arithmetic type NCCL knows");
  if (!nccl_reducible<T, Op>()) return false;
  return transport::detail_collectives::use_nccl(ctx, how, what);
}

/// Sizes of the G blocks an all-reduce of `count` elements splits into (differ by at most 1).
inline std::vector<std::size_t> block_sizes(std::size_t count, std::size_t g) {
  std::vector<std::size_t> sizes(g, count / g);
  for (std::size_t b = 0; b < count % g; ++b) ++sizes[b];
  return sizes;
}

}  // namespace detail_reducing

/// recv[d][i] = send[0][d*count + i] op send[1][d*count + i] op ... (shard order), for
/// every shard d; send[s] has G * count elements, recv[d] count. Blocks until done.
template <class T, class Op>
void reduce_scatter(context_impl& ctx, const std::vector<const T*>& send, const std::vector<T*>& recv, std::size_t count,
                    Op op, transport::engine how = transport::engine::automatic) {
  const std::size_t g = ctx.size();
  transport::detail_collectives::check_shards(ctx, send.size(), "reduce_scatter", "send");
  transport::detail_collectives::check_shards(ctx, recv.size(), "reduce_scatter", "recv");
  if (count == 0) return;
  if (detail_reducing::use_nccl<T, Op>(ctx, how, "reduce_scatter")) {
#if SHARD_HAS_NCCL
    run_and_wait(ctx, [&] {
      transport::nccl::group(ctx, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
        return ncclReduceScatter(send[shard], recv[shard], count, transport::nccl::data_type<T>(), ncclSum, comm,
                                 stream);
      });
    });
    for (std::size_t s = 0; s < g; ++s)
      for (std::size_t d = 0; d < g; ++d) ctx.count_bytes(static_cast<int>(s), static_cast<int>(d), count * sizeof(T));
#endif
    return;
  }
  std::vector<device_buffer<T>> blocks(g);
  std::vector<T*> staging(g);
  run_and_wait(ctx, [&] {
    for (std::size_t d = 0; d < g; ++d) {
      blocks[d] = device_buffer<T>(ctx, d, g * count);
      staging[d] = blocks[d].data();
    }
    transport::all_to_all(ctx, send, count, staging, transport::engine::copies);
    for (std::size_t d = 0; d < g; ++d)
      launch(ctx, d, [&](auto& dev) {
        primitive::for_each_index(dev, count, fold_blocks_fn<T, Op>{staging[d], count, g, recv[d], op});
      });
  });
}

/// buffers[s][i] = buffers[0][i] op buffers[1][i] op ... (shard order) on every shard s,
/// in place; every buffer has `count` elements. Blocks until done. After a failure the
/// buffers' contents are unspecified (in place, some blocks may already be folded).
template <class T, class Op>
void all_reduce(context_impl& ctx, const std::vector<T*>& buffers, std::size_t count, Op op,
                transport::engine how = transport::engine::automatic) {
  const std::size_t g = ctx.size();
  transport::detail_collectives::check_shards(ctx, buffers.size(), "all_reduce", "buffers");
  if (count == 0 || g == 1) return;
  if (detail_reducing::use_nccl<T, Op>(ctx, how, "all_reduce")) {
#if SHARD_HAS_NCCL
    run_and_wait(ctx, [&] {
      transport::nccl::group(ctx, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
        return ncclAllReduce(buffers[shard], buffers[shard], count, transport::nccl::data_type<T>(), ncclSum, comm,
                             stream);
      });
    });
    // Counted as the two phases of the copies engine move them, so the figures compare.
    const auto sizes = detail_reducing::block_sizes(count, g);
    for (std::size_t s = 0; s < g; ++s)
      for (std::size_t d = 0; d < g; ++d)
        ctx.count_bytes(static_cast<int>(s), static_cast<int>(d), (s == d ? sizes[s] : sizes[d] + sizes[s]) * sizeof(T));
#endif
    return;
  }
  const auto sizes = detail_reducing::block_sizes(count, g);
  const auto offsets = offsets_of(sizes);
  std::vector<device_buffer<T>> blocks(g);
  std::vector<T*> staging(g);
  std::vector<const T*> sources(buffers.begin(), buffers.end());
  std::vector<std::size_t> counts(g * g);
  for (std::size_t s = 0; s < g; ++s)
    for (std::size_t d = 0; d < g; ++d) counts[s * g + d] = sizes[d];
  run_and_wait(ctx, [&] {
    for (std::size_t d = 0; d < g; ++d) {
      blocks[d] = device_buffer<T>(ctx, d, g * sizes[d]);
      staging[d] = blocks[d].data();
    }
    // Block d of every buffer to shard d (its own block too, so the fold reads one array),
    transport::all_to_all_v(ctx, sources, counts, staging, transport::engine::copies);
    // folded there in shard order,
    for (std::size_t d = 0; d < g; ++d)
      if (sizes[d] != 0)
        launch(ctx, d, [&](auto& dev) {
          primitive::for_each_index(dev, sizes[d],
                                    fold_blocks_fn<T, Op>{staging[d], sizes[d], g, buffers[d] + offsets[d], op});
        });
    // and the reduced block d from shard d to every other shard.
    std::vector<transfer> plan;
    for (std::size_t d = 0; d < g; ++d)
      for (std::size_t e = 0; e < g; ++e)
        if (e != d && sizes[d] != 0) plan.push_back(transfer{d, offsets[d], e, offsets[d], sizes[d]});
    transport::exchange(ctx, plan, sources, buffers);
  });
}

}  // namespace detail
SHARD_NAMESPACE_END
