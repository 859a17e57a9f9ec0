#pragma once
/// @file transport/copy.hpp
/// The one place where bytes move between the host and shards and between shards. Every
/// byte is counted here, once, in the context's transfer matrix.
#include <shard/config.hpp>
#include <shard/detail/context_impl.hpp>
#include <shard/detail/skeleton/plan.hpp>
#include <shard/stats.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport {

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

/// Shard `src_shard` -> shard `dst_shard`. Within one shard it is a local device copy; across
/// shards the destination pulls the bytes (peer copy through the copy engines, or the
/// driver's staged path) after the source's queued work, and the source's later work waits
/// for the copy, so neither side can overwrite or free the buffers too early.
inline void copy(detail::context_impl& ctx, std::size_t src_shard, const void* src, std::size_t dst_shard, void* dst,
                 std::size_t bytes) {
  if (bytes == 0) return;
  auto& source = ctx.dev(src_shard);
  auto& destination = ctx.dev(dst_shard);
  if (src_shard == dst_shard) {
    destination.copy_local(dst, src, bytes);
  } else {
    destination.wait(source.record());
    destination.copy_from_peer(dst, source, src, bytes);
    source.wait(destination.record());
  }
  ctx.count_bytes(static_cast<int>(src_shard), static_cast<int>(dst_shard), bytes);
}

/// Executes an exchange plan between two segmented buffers. Transfers are issued in a
/// rotated order: at step k, shard g sends to shard (g + k) mod G, so no destination is
/// flooded by every source at once.
template <class T>
void exchange(detail::context_impl& ctx, const std::vector<detail::transfer>& plan, const std::vector<const T*>& src,
              const std::vector<T*>& dst) {
  const std::size_t g = ctx.size();
  for (std::size_t step = 0; step < g; ++step)
    for (const auto& t : plan)
      if ((t.src_shard + step) % g == t.dst_shard)
        copy(ctx, t.src_shard, src[t.src_shard] + t.src_offset, t.dst_shard, dst[t.dst_shard] + t.dst_offset,
             t.count * sizeof(T));
}

}  // namespace transport
SHARD_NAMESPACE_END
