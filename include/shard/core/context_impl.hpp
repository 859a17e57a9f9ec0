#pragma once
/// @file core/context_impl.hpp
/// What a context handle shares: the shards' devices, the topology, the communication
/// counters, the pinned host memory of its transfers, the collective engine, and the deadline
/// of its waits. The counters are fed by the backend-agnostic layer only.
#include <shard/config.hpp>
#include <shard/core/collective_engine.hpp>
#include <shard/core/device.hpp>
#include <shard/core/staging.hpp>
#include <shard/error.hpp>
#include <shard/stats.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// The wait deadline a new context gets: SHARD_WAIT_TIMEOUT seconds (a decimal number; 0 means
/// no deadline), or 600 s when it is unset. Throws invalid_argument for anything else.
inline std::chrono::nanoseconds wait_timeout_from_environment() {
  constexpr double default_seconds = 600;
  const char* text = std::getenv("SHARD_WAIT_TIMEOUT");
  double seconds = default_seconds;
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    seconds = std::strtod(text, &end);
    if (*end != '\0' || !std::isfinite(seconds) || seconds < 0 || seconds > 1e9)
      throw invalid_argument(std::string("SHARD_WAIT_TIMEOUT=\"") + text +
                             "\" is not a number of seconds (0 for no deadline)");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
}

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
    staging_.resize(g);
    wait_timeout_ = wait_timeout_from_environment();
  }
  ~context_impl() {
    // Every public call waits for its shards, so the queues are idle here; the wait below is
    // bounded by the deadline and skipped once the context has given up on its shards.
    // Communicators and staging buffers go first (the queues use them), then the devices
    // (their destructors drain the queues), then the memory pools (held by the devices).
    if (usable_) synchronize_all_noexcept();
    engine_.reset();
    if (!usable_ && !drain_abandoned()) {
      // A device still runs work that never ends, and may have copies into the pinned chunks
      // and slots queued behind it: those stay allocated (freeing pinned memory is not ordered
      // against the copies). The host emulation drains at once, so it frees everything.
      for (auto& pool : staging_)
        if (pool) pool->leak();
      pinned_slots_[0] = pinned_slots_[1] = nullptr;
    }
    staging_.clear();
    for (int a = 0; a < 2; ++a)
      if (pinned_slots_[a] != nullptr) devices_[0]->deallocate_host(pinned_slots_[a], pinned_slots_bytes_[a]);
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

  /// The pinned host chunks of `shard`'s host traffic (staging.hpp), created on first use.
  staging_pool& staging(std::size_t shard) {
    if (!staging_[shard]) staging_[shard] = std::make_unique<staging_pool>(dev(shard));
    return *staging_[shard];
  }

  /// Serialises the calls on this context: every public call (and every phase, every host
  /// transfer) holds it, so that two host threads using one context take turns instead of
  /// sharing its pinned slots, staging chunks and queues mid-call. Recursive: a call that
  /// makes other calls holds it once more. A call waits for the other thread's call to finish.
  std::unique_lock<std::recursive_mutex> exclusive() { return std::unique_lock<std::recursive_mutex>(call_mutex_); }

  /// At least `bytes` of pinned host memory owned by the context, for small transfers such as
  /// the partials of a reduction (copied from every shard at once, without blocking the host).
  /// Valid until the next call for the same `area`; the caller holds exclusive(). Two areas,
  /// so that one phase can upload from one (area 1: values the host sends to the shards)
  /// while it gathers into the other (area 0).
  void* pinned_slots(std::size_t bytes, int area = 0) {
    if (bytes > pinned_slots_bytes_[area]) {
      const std::size_t grown = std::max<std::size_t>(bytes, 4096);
      void* p = dev(0).allocate_host(grown);
      if (pinned_slots_[area] != nullptr) dev(0).deallocate_host(pinned_slots_[area], pinned_slots_bytes_[area]);
      pinned_slots_[area] = p;
      pinned_slots_bytes_[area] = grown;
    }
    return pinned_slots_[area];
  }

  /// The collective library's state (NCCL communicators: core/collective_engine.hpp), kept
  /// for the context's life or until it is aborted; null while no collective has needed one.
  /// The context's waits poll it and abort it with a bound (abort_collective_engine).
  void set_collective_engine(std::shared_ptr<collective_engine> engine) noexcept { engine_ = std::move(engine); }
  const std::shared_ptr<collective_engine>& engine() const noexcept { return engine_; }
  /// Drops the collective state (after a failure, so the next call starts afresh).
  void reset_collective_engine() noexcept { engine_.reset(); }

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
  /// Adds one call of `seconds` to the named phase (phase = true) or algorithm call.
  void count_time(bool phase, const std::string& name, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = phase ? counters_.phases : counters_.calls;
    for (auto& t : list)
      if (t.name == name) {
        t.seconds += seconds;
        ++t.calls;
        return;
      }
    list.push_back(stats::timing{name, seconds, 1});
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
    counters_.phases.clear();
    counters_.calls.clear();
    counters_.peak_bytes = in_use_;  // the peak from now on starts at what is allocated now
  }

  // --- deadlines and usability --------------------------------------------------------
  /// How long one wait on the shards may take; zero: no deadline.
  std::chrono::nanoseconds wait_timeout() const noexcept { return wait_timeout_; }
  void set_wait_timeout(std::chrono::nanoseconds timeout) {
    if (timeout.count() < 0) throw invalid_argument("context::set_wait_timeout: the timeout must not be negative");
    wait_timeout_ = timeout;
  }
  /// The deadline of a wait that starts now.
  std::chrono::steady_clock::time_point deadline() const {
    const auto now = std::chrono::steady_clock::now();
    if (wait_timeout_.count() == 0 || wait_timeout_ > std::chrono::steady_clock::time_point::max() - now)
      return std::chrono::steady_clock::time_point::max();
    return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait_timeout_);
  }
  /// False once a wait passed its deadline: the shards may still be running work that never
  /// ends, so nothing else may be queued on them.
  bool usable() const noexcept { return usable_; }
  /// Throws shard::error when the context is unusable (every public path checks first).
  void require_usable() const {
    if (!usable_) throw error("the context is unusable: " + unusable_reason_ + "; create a new context");
  }
  /// Gives up on the shards after a wait on `shard` passed its deadline: aborts the collective
  /// engine's work, abandons every device still busy, marks the context unusable, and returns
  /// the shard::timeout to throw.
  std::exception_ptr give_up(std::size_t shard) noexcept {
    const double seconds = std::chrono::duration<double>(wait_timeout_).count();
    const int ordinal = dev(shard).ordinal();
    std::string message = "shard " + std::to_string(shard) + " (device " + std::to_string(ordinal) +
                          ") did not finish its queued work within the context's wait timeout of " +
                          std::to_string(seconds) + " s";
    usable_ = false;
    unusable_reason_ = message;
    abort_collective_engine();
    for (auto& d : devices_)
      if (!d->idle()) d->abandon();
    try {
      return std::make_exception_ptr(timeout(message + "; the context is now unusable", static_cast<int>(shard),
                                             ordinal));
    } catch (...) {
      return std::current_exception();
    }
  }

  /// Aborts the collective engine's work (NCCL: ncclCommAbort on every communicator) on a
  /// thread of its own, waiting for it at most min(timeout, 5 s): the abort itself may wait
  /// for a stream that never finishes (NCCL synchronises its internal stream, which follows
  /// the shards' streams). The thread keeps the engine alive until the abort returns; the
  /// context lets go of it either way.
  void abort_collective_engine() noexcept {
    if (!engine_) return;
    try {
      auto engine = engine_;
      auto done = std::make_shared<std::promise<void>>();
      auto finished = done->get_future();
      std::thread([engine, done] {
        engine->abort();  // noexcept; best effort: the devices are abandoned whatever it did
        done->set_value();
      }).detach();
      const auto limit = wait_timeout_.count() == 0 ? std::chrono::nanoseconds(std::chrono::seconds(5))
                                                    : std::min<std::chrono::nanoseconds>(wait_timeout_, std::chrono::seconds(5));
      if (finished.wait_for(limit) != std::future_status::ready && usable_) {
        // Still aborting: a new engine must not start beside it (NCCL forbids making
        // communicators on GPUs whose communicators another thread is aborting).
        usable_ = false;
        unusable_reason_ = "the collective engine's abort did not finish within " +
                           std::to_string(std::chrono::duration<double>(limit).count()) + " s";
      }
    } catch (...) {
      // No thread could be started: the engine is leaked rather than destroyed (destroying
      // communicators that reported an error may wait forever), and the context is unusable.
      (void)new (std::nothrow) std::shared_ptr<collective_engine>(engine_);
      usable_ = false;
      try {
        unusable_reason_ = "the collective engine could not be aborted";
      } catch (...) {  // out of memory: the reason stays as it was
      }
    }
    reset_collective_engine();
  }

  // --- waiting ---------------------------------------------------------------------
  /// Waits for every shard (one host synchronisation) and rethrows the first failure, in
  /// shard order, after all shards are idle: no shard is left running when it throws. Past
  /// the deadline it gives up (give_up) and throws shard::timeout.
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
  /// After give_up: waits a moment (100 ms at most) for the abandoned devices' queues to
  /// empty. True when every queue did: nothing can touch the context's memory any more.
  bool drain_abandoned() noexcept {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    bool all = true;
    for (auto& d : devices_) {
      try {
        all = d->wait_until(deadline) && all;
      } catch (...) {
        all = false;
      }
    }
    return all;
  }

  std::exception_ptr wait_all() {
    count_host_sync();
    if (!usable_) return std::make_exception_ptr(error("the context is unusable: " + unusable_reason_));
    const auto deadline = this->deadline();
    std::exception_ptr first;
    for (std::size_t s = 0; s < devices_.size(); ++s) {
      auto& d = *devices_[s];
      bool done = false;
      if (engine_) {
        // With a collective library in use, poll it while waiting: a failed collective would
        // otherwise leave the stream waiting forever. After a poll that throws, the library's
        // work is aborted with the same bound as a deadline's abort (the abort itself may
        // wait on a stuck stream), and the engine dropped, so the queue drains.
        while (!(done = d.wait_until(std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(1))))) {
          if (std::chrono::steady_clock::now() >= deadline) break;
          try {
            if (engine_) engine_->poll();
          } catch (...) {
            if (!first) first = std::current_exception();
            abort_collective_engine();
            if (!usable_) {
              // The abort did not finish: the shards may never drain. Give up on them now,
              // whatever the deadline (there may be none).
              for (auto& other : devices_)
                if (!other->idle()) other->abandon();
              return first;
            }
          }
        }
      } else {
        done = d.wait_until(deadline);
      }
      if (!done) return give_up(s);
      try {
        d.synchronize();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    return first;
  }

  backend kind_;
  std::vector<std::unique_ptr<device>> devices_;
  shard::topology topology_;
  std::vector<std::unique_ptr<staging_pool>> staging_;
  void* pinned_slots_[2] = {nullptr, nullptr};
  std::size_t pinned_slots_bytes_[2] = {0, 0};
  std::shared_ptr<collective_engine> engine_;
  std::chrono::nanoseconds wait_timeout_{0};
  bool usable_ = true;
  std::string unusable_reason_;
  std::recursive_mutex call_mutex_;
  mutable std::mutex mutex_;
  stats counters_;
  std::vector<std::uint64_t> in_use_;
};

}  // namespace detail
SHARD_NAMESPACE_END
