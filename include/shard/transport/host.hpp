#pragma once
/// @file transport/host.hpp
/// Whole-vector transfers between host memory (any: pageable or pinned) and the shards, all
/// shards at once. A GPU copies pageable memory only by blocking the calling thread until its
/// queue reaches the copy (cudaMemcpyAsync), so shards would take turns and the wait would
/// have no deadline. Instead each shard streams its block through its own pinned chunks
/// (core/staging.hpp): the device copies chunks while the host moves finished ones between
/// the chunks and the caller's memory. Every shard's copies are in flight at once; when two
/// or more shards have a large block, each of those gets a host thread of its own for the
/// memcpys, so the transfer approaches the sum of the shards' host links.
/// Pinned host memory, and devices that need no pinned memory (the host backend by default),
/// take the direct path: one queued copy per shard. Every byte is counted once; one host sync.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/core/staging.hpp>
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

/// One block's progress through its shard's pinned chunks.
class block_stream {
 public:
  block_stream(detail::context_impl& ctx, const host_block& b, host_direction dir)
      : dev_(ctx.dev(b.shard)), pool_(ctx.staging(b.shard)), b_(b), dir_(dir) {}

  bool done() const { return next_ == b_.bytes && queue_.empty(); }

  /// Queues as much as the chunks allow: host -> chunk -> device copies (from_host), or
  /// device -> chunk copies (to_host). False when a wait for a chunk passed the deadline.
  bool advance(std::chrono::steady_clock::time_point deadline) {
    const std::size_t step = detail::staging_pool::chunk_bytes;
    // At most a pool's worth of chunks per call, so that interleaved blocks take turns.
    for (std::size_t issued = 0;
         next_ < b_.bytes && queue_.size() < detail::staging_pool::chunk_count && issued < detail::staging_pool::chunk_count;
         ++issued) {
      const std::size_t n = std::min(step, b_.bytes - next_);
      auto& c = pool_.next();
      char* device = static_cast<char*>(b_.device) + next_;
      if (dir_ == host_direction::from_host) {
        // host -> chunk here, chunk -> device queued; the chunk is refilled once the device
        // has copied out of it.
        if (c.released && !detail::poll_until([&] { return c.released->reached(); }, deadline)) return false;
        std::memcpy(c.data, static_cast<const char*>(b_.host) + next_, n);
        dev_.copy_from_host(device, c.data, n);
        c.released = dev_.record();
        next_ += n;
        continue;  // counts as issued
      }
      if (c.released) dev_.wait(c.released);  // its last copy out (a staged shard copy) is done
      c.released = nullptr;
      dev_.copy_to_host(c.data, device, n);
      queue_.push_back(in_flight{&c, next_, n, dev_.record()});
      next_ += n;
    }
    return true;
  }

  /// to_host: moves the oldest chunk to the caller's memory once the device has filled it.
  /// Returns false when that wait passed the deadline.
  bool drain_one(std::chrono::steady_clock::time_point deadline) {
    if (queue_.empty()) return true;
    const in_flight f = queue_.front();
    if (!detail::poll_until([&] { return f.copied->reached(); }, deadline)) return false;
    std::memcpy(static_cast<char*>(b_.host) + f.offset, f.c->data, f.n);
    queue_.pop_front();
    return true;
  }

  std::size_t shard() const { return b_.shard; }

 private:
  struct in_flight {
    detail::staging_pool::chunk* c;
    std::size_t offset, n;
    std::shared_ptr<detail::event> copied;
  };
  detail::device& dev_;
  detail::staging_pool& pool_;
  host_block b_;
  host_direction dir_;
  std::size_t next_ = 0;
  std::deque<in_flight> queue_;
};

/// Streams the blocks through their shards' chunks, interleaved: every shard's device copies
/// are in flight at once, and this thread moves the chunks between the caller's memory and
/// the pinned memory as they come. Returns the shard whose wait passed the deadline, or
/// ctx.size(). Throws what the devices' calls throw.
inline std::size_t stream_blocks(detail::context_impl& ctx, const std::vector<host_block>& blocks,
                                 host_direction dir, std::chrono::steady_clock::time_point deadline) {
  std::vector<block_stream> streams;
  streams.reserve(blocks.size());
  for (const auto& b : blocks) streams.emplace_back(ctx, b, dir);
  for (bool busy = true; busy;) {
    busy = false;
    for (auto& s : streams) {
      if (s.done()) continue;
      busy = true;
      if (!s.advance(deadline) || !s.drain_one(deadline)) return s.shard();
    }
  }
  return ctx.size();
}

}  // namespace detail_host

/// Copies every block (at most one per shard) between host memory and the shards, all shards
/// at once, and waits for them: one host sync. Throws what the shards' work throws (after
/// every shard is idle), or shard::timeout past the context's deadline. In an SPMD context
/// it is collective: each rank moves the blocks of its own shards (the others' are skipped)
/// and the ranks agree on the outcome.
inline void host_transfer(detail::context_impl& ctx, const std::vector<host_block>& blocks, host_direction dir) {
  const auto turn = ctx.exclusive();  // the staging chunks are the context's
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
      if (b.bytes == 0 || !ctx.local(b.shard)) continue;  // SPMD: other ranks move their own
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
    // Shards with a large block each get a host thread for their memcpys (one thread moves
    // about one GPU link's worth of bytes); the other blocks interleave on this thread.
    std::vector<host_block> own_thread, here;
    for (const auto& b : streamed) (b.bytes >= host_thread_min_bytes ? own_thread : here).push_back(b);
    if (own_thread.size() < 2) {
      here.insert(here.end(), own_thread.begin(), own_thread.end());
      own_thread.clear();
    }
    std::vector<std::exception_ptr> errors(own_thread.size());
    std::vector<std::size_t> stuck(own_thread.size(), ctx.size());
    std::vector<std::thread> threads;
    threads.reserve(own_thread.size());
    // The helpers' queues may hold work this thread queued with its wakeups deferred, which
    // the helpers wait for (and this thread may join them without waiting itself).
    detail::deferred_wakeups::flush();
    try {
      for (std::size_t i = 0; i < own_thread.size(); ++i)
        threads.emplace_back([&, i] {
          try {
            stuck[i] = detail_host::stream_blocks(ctx, {own_thread[i]}, dir, deadline);
          } catch (...) {
            errors[i] = std::current_exception();
          }
        });
      timed_out = detail_host::stream_blocks(ctx, here, dir, deadline);
    } catch (...) {
      for (auto& t : threads) t.join();
      throw;
    }
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < own_thread.size(); ++i) {
      if (errors[i] && !failure) failure = errors[i];
      if (stuck[i] != ctx.size() && timed_out == ctx.size()) timed_out = stuck[i];
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (timed_out != ctx.size()) std::rethrow_exception(ctx.give_up(timed_out));
  if (failure) {
    ctx.synchronize_all_noexcept();
    ctx.agree_on_failure(failure, ctx.step_shape("a host transfer"));
  }
  for (const auto& b : blocks) {
    if (!ctx.local(b.shard)) continue;
    const int s = static_cast<int>(b.shard);
    if (dir == host_direction::to_host) ctx.count_bytes(s, stats::host, b.bytes);
    else ctx.count_bytes(stats::host, s, b.bytes);
  }
  ctx.finish_step("a host transfer");
  if (dir == host_direction::to_host)
    for (std::size_t i = 0; i < small.size(); ++i) std::memcpy(small[i].host, slots + slot_offset[i], small[i].bytes);
}

}  // namespace transport
SHARD_NAMESPACE_END
