#pragma once
/// @file transport/host.hpp
/// Whole-vector transfers between host memory (any: pageable or pinned) and the shards, all
/// shards at once. A GPU copies pageable memory only by blocking the calling thread until its
/// queue reaches the copy (cudaMemcpyAsync), so shards would take turns and the wait would
/// have no deadline. Instead each shard streams its block through its own pinned chunks
/// (detail/staging.hpp): the device copies one chunk while the host moves the previous one
/// between the chunk and the caller's memory, and every shard with a large block gets its own
/// host thread for that, so the transfer approaches the sum of the shards' host links.
/// Pinned host memory, and devices that need no pinned memory (the host backend by default),
/// take the direct path: one queued copy per shard. Every byte is counted once; one host sync.
#include <shard/config.hpp>
#include <shard/detail/context_impl.hpp>
#include <shard/detail/staging.hpp>
#include <shard/stats.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport {

/// One shard's part of a host transfer: `bytes` bytes between `host` and the shard's `device`
/// memory.
struct host_block {
  std::size_t shard;
  void* host;
  void* device;
  std::size_t bytes;
};

/// Which way a host transfer goes.
enum class host_direction { to_host, from_host };

/// Blocks at least this large get a host thread of their own when several shards stream at
/// once (a thread costs tens of microseconds to start; 1 MiB takes about as long on PCIe).
inline constexpr std::size_t host_thread_min_bytes = std::size_t{1} << 20;
/// Blocks up to this size go through the context's pinned slots in one copy each (a get(), a
/// set(), the partials of a reduction) instead of the shard's chunks.
inline constexpr std::size_t host_small_max_bytes = std::size_t{64} << 10;

namespace detail_host {

/// Streams one block through the shard's pinned chunks. Returns false when a wait passed the
/// deadline (the caller gives up on the context). Throws what the device's calls throw.
inline bool stream_block(detail::context_impl& ctx, const host_block& b, host_direction dir,
                         std::chrono::steady_clock::time_point deadline) {
  using chunk = detail::staging_pool::chunk;
  auto& dev = ctx.dev(b.shard);
  auto& pool = ctx.staging(b.shard);
  char* host = static_cast<char*>(b.host);
  char* device = static_cast<char*>(b.device);
  const std::size_t step = detail::staging_pool::chunk_bytes;
  auto reached = [&](const std::shared_ptr<detail::event>& e) {
    return !e || detail::poll_until([&] { return e->reached(); }, deadline);
  };
  if (dir == host_direction::from_host) {
    // host -> chunk (this thread), chunk -> device (queued); a chunk is refilled once the
    // device has copied out of it.
    for (std::size_t offset = 0; offset < b.bytes; offset += step) {
      const std::size_t n = std::min(step, b.bytes - offset);
      chunk& c = pool.next();
      if (!reached(c.released)) return false;
      std::memcpy(c.data, host + offset, n);
      dev.copy_from_host(device + offset, c.data, n);
      c.released = dev.record();
    }
    return true;
  }
  // device -> chunk (queued), chunk -> host (this thread), with every chunk in flight.
  struct in_flight {
    chunk* c;
    std::size_t offset, n;
    std::shared_ptr<detail::event> copied;
  };
  std::deque<in_flight> queue;
  std::size_t next = 0;
  auto issue = [&] {
    const std::size_t n = std::min(step, b.bytes - next);
    chunk& c = pool.next();
    if (c.released) dev.wait(c.released);  // its last copy out (a staged shard copy) is done
    c.released = nullptr;
    dev.copy_to_host(c.data, device + next, n);
    queue.push_back(in_flight{&c, next, n, dev.record()});
    next += n;
  };
  while (next < b.bytes && queue.size() < detail::staging_pool::chunk_count) issue();
  while (!queue.empty()) {
    const in_flight f = queue.front();
    if (!reached(f.copied)) return false;
    std::memcpy(host + f.offset, f.c->data, f.n);
    queue.pop_front();
    if (next < b.bytes) issue();
  }
  return true;
}

}  // namespace detail_host

/// Copies every block (at most one per shard) between host memory and the shards, all shards
/// at once, and waits for them: one host sync. Throws what the shards' work throws (after
/// every shard is idle), or shard::timeout past the context's deadline.
inline void host_transfer(detail::context_impl& ctx, const std::vector<host_block>& blocks, host_direction dir) {
  ctx.require_usable();
  const auto deadline = ctx.deadline();
  std::vector<host_block> streamed, small;
  std::exception_ptr failure;
  std::size_t timed_out = ctx.size();
  char* slots = nullptr;
  std::vector<std::size_t> slot_offset;
  try {
    auto direct = [&](const host_block& b) {
      auto& dev = ctx.dev(b.shard);
      if (dir == host_direction::to_host) dev.copy_to_host(b.host, b.device, b.bytes);
      else dev.copy_from_host(b.device, b.host, b.bytes);
    };
    std::vector<host_block> pinned;
    for (const auto& b : blocks) {
      if (b.bytes == 0) continue;
      auto& dev = ctx.dev(b.shard);
      if (!dev.host_copies_need_pinned_memory() || dev.is_pinned(b.host)) pinned.push_back(b);
      else if (b.bytes <= host_small_max_bytes) small.push_back(b);
      else streamed.push_back(b);
    }
    // Page-locked memory is allocated before anything is queued: allocating it between
    // stream commands would synchronise the streams.
    if (!small.empty()) {
      std::size_t total = 0;
      for (const auto& b : small) {
        slot_offset.push_back(total);
        total += (b.bytes + 255) / 256 * 256;
      }
      slots = static_cast<char*>(ctx.pinned_slots(total));
    }
    for (const auto& b : streamed) (void)ctx.staging(b.shard);
    for (const auto& b : pinned) direct(b);
    for (std::size_t i = 0; i < small.size(); ++i) {
      host_block through = small[i];
      through.host = slots + slot_offset[i];
      if (dir == host_direction::from_host) std::memcpy(through.host, small[i].host, small[i].bytes);
      direct(through);
    }
    std::size_t large = 0;
    for (const auto& b : streamed) large += b.bytes >= host_thread_min_bytes ? 1 : 0;
    if (large >= 2) {
      std::vector<std::exception_ptr> errors(streamed.size());
      std::vector<char> finished(streamed.size(), 1);
      std::vector<std::thread> threads;
      threads.reserve(streamed.size());
      try {
        for (std::size_t i = 0; i < streamed.size(); ++i)
          threads.emplace_back([&, i] {
            try {
              finished[i] = detail_host::stream_block(ctx, streamed[i], dir, deadline) ? 1 : 0;
            } catch (...) {
              errors[i] = std::current_exception();
            }
          });
      } catch (...) {
        for (auto& t : threads) t.join();
        throw;
      }
      for (auto& t : threads) t.join();
      for (std::size_t i = 0; i < streamed.size(); ++i) {
        if (errors[i] && !failure) failure = errors[i];
        if (!finished[i] && timed_out == ctx.size()) timed_out = streamed[i].shard;
      }
    } else {
      for (const auto& b : streamed)
        if (!detail_host::stream_block(ctx, b, dir, deadline)) {
          timed_out = b.shard;
          break;
        }
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (timed_out != ctx.size()) std::rethrow_exception(ctx.give_up(timed_out));
  if (failure) {
    ctx.synchronize_all_noexcept();
    std::rethrow_exception(failure);
  }
  for (const auto& b : blocks) {
    const int s = static_cast<int>(b.shard);
    if (dir == host_direction::to_host) ctx.count_bytes(s, stats::host, b.bytes);
    else ctx.count_bytes(stats::host, s, b.bytes);
  }
  ctx.synchronize_all();
  if (dir == host_direction::to_host)
    for (std::size_t i = 0; i < small.size(); ++i) std::memcpy(small[i].host, slots + slot_offset[i], small[i].bytes);
}

}  // namespace transport
SHARD_NAMESPACE_END
