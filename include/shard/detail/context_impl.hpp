#pragma once
/// @file detail/context_impl.hpp
/// What a context handle shares: the shards' devices, the peer-access matrix and the
/// communication counters. The counters are fed by the backend-agnostic layer only.
#include <shard/config.hpp>
#include <shard/detail/device.hpp>
#include <shard/detail/staging.hpp>
#include <shard/stats.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

class context_impl {
 public:
  context_impl(backend kind, std::vector<std::unique_ptr<device>> devices, shard::topology topo)
      : kind_(kind), devices_(std::move(devices)), topology_(std::move(topo)) {
    const std::size_t g = devices_.size();
    counters_.shards = g;
    counters_.bytes.assign((g + 1) * (g + 1), 0);
    counters_.launches.assign(g, 0);
    counters_.peak_bytes.assign(g, 0);
    in_use_.assign(g, 0);
  }
  ~context_impl() {
    // Every public call waits for its shards, so the queues are idle here. Communicators
    // and staging buffers go first (they are used by the queues), then the devices (their
    // destructors drain the queues), then the memory pools (held by the devices).
    synchronize_all_noexcept();
    collective_engine_.reset();
    staging_.reset();
    devices_.clear();
  }
  context_impl(const context_impl&) = delete;
  context_impl& operator=(const context_impl&) = delete;

  backend kind() const noexcept { return kind_; }
  std::size_t size() const noexcept { return devices_.size(); }
  device& dev(std::size_t shard) const { return *devices_[shard]; }
  const shard::topology& topology() const noexcept { return topology_; }
  /// Shards on one device: their copies are device-local.
  bool same_device(std::size_t a, std::size_t b) const { return topology_.link(a, b).same_device; }
  /// `a` may access `b`'s memory directly: one device, or peer access enabled.
  bool peer_access(std::size_t a, std::size_t b) const {
    const auto& l = topology_.link(a, b);
    return l.same_device || l.peer_enabled;
  }

  /// The pinned host buffers of staged copies, created on first use.
  staging_pool& staging() {
    if (!staging_) staging_ = std::make_unique<staging_pool>(dev(0));
    return *staging_;
  }

  /// State of a collective library (NCCL communicators), kept for the context's life, and
  /// its `poll`: called over and over while the host waits for the shards, it throws when
  /// the library reports an asynchronous error (after aborting its work, so the queues
  /// drain). Type-erased so that this header does not depend on the library.
  void set_collective_engine(std::shared_ptr<void> engine, std::function<void()> poll) {
    collective_engine_ = std::move(engine);
    poll_ = std::move(poll);
  }
  const std::shared_ptr<void>& collective_engine() const noexcept { return collective_engine_; }
  /// Drops the collective state (after a failure, so the next call starts afresh).
  void reset_collective_engine() noexcept {
    poll_ = nullptr;
    collective_engine_.reset();
  }

  // --- accounting -----------------------------------------------------------------
  /// source/destination: shard index or stats::host.
  void count_bytes(int source, int destination, std::uint64_t bytes) {
    if (bytes == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t g = size();
    const std::size_t s = source == stats::host ? g : static_cast<std::size_t>(source);
    const std::size_t d = destination == stats::host ? g : static_cast<std::size_t>(destination);
    counters_.bytes[s * (g + 1) + d] += bytes;
  }
  void count_launch(std::size_t shard) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.launches[shard];
  }
  void count_host_sync() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.host_syncs;
  }
  void count_allocation(std::size_t shard, std::uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_[shard] += bytes;
    counters_.peak_bytes[shard] = std::max(counters_.peak_bytes[shard], in_use_[shard]);
  }
  void count_deallocation(std::size_t shard, std::uint64_t bytes) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_[shard] -= bytes;
  }
  stats snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counters_;
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fill(counters_.bytes.begin(), counters_.bytes.end(), 0);
    std::fill(counters_.launches.begin(), counters_.launches.end(), 0);
    counters_.host_syncs = 0;
    counters_.peak_bytes = in_use_;  // the peak from now on starts at what is allocated now
  }

  // --- waiting ---------------------------------------------------------------------
  /// Waits for every shard (one host synchronisation) and rethrows the first failure, in
  /// shard order, after all shards are idle: no shard is left running when it throws.
  void synchronize_all() {
    std::exception_ptr first = wait_all();
    if (first) std::rethrow_exception(first);
  }
  /// As synchronize_all, for error paths: swallows the failures (the caller already has one).
  void synchronize_all_noexcept() noexcept {
    try {
      (void)wait_all();
    } catch (...) {
      // count_host_sync can only fail on a broken mutex; nothing left to do.
    }
  }

 private:
  std::exception_ptr wait_all() {
    count_host_sync();
    std::exception_ptr first;
    for (auto& d : devices_) {
      try {
        // With a collective library in use, poll it while waiting: a failed collective
        // would otherwise leave the stream waiting forever. A poll that throws has aborted
        // the library's work, so the synchronize below still returns.
        if (poll_)
          while (!d->idle()) {
            poll_();
            std::this_thread::yield();
          }
      } catch (...) {
        if (!first) first = std::current_exception();
      }
      try {
        d->synchronize();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    return first;
  }

  backend kind_;
  std::vector<std::unique_ptr<device>> devices_;
  shard::topology topology_;
  std::unique_ptr<staging_pool> staging_;
  std::shared_ptr<void> collective_engine_;
  std::function<void()> poll_;
  mutable std::mutex mutex_;
  stats counters_;
  std::vector<std::uint64_t> in_use_;
};

}  // namespace detail
SHARD_NAMESPACE_END
