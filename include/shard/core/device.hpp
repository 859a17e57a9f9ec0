#pragma once
/// @file core/device.hpp
/// The backend-neutral face of one shard: memory, copies, ordering, waiting. Template
/// primitives (transform, reduce, ...) are free functions of each backend instead, because a
/// virtual function cannot take a user's function object.
#include <shard/config.hpp>
#include <shard/backend.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

SHARD_NAMESPACE_BEGIN

namespace detail {

/// A point in a shard's queue that other queues can wait for (a CUDA event, or its host
/// emulation).
class event {
 public:
  virtual ~event() = default;
  /// Whether the queue that recorded it has run up to the record point (also when that work
  /// failed: the queue's synchronize() reports failures). Does not block.
  virtual bool reached() const = 0;
};

/// Wakeups that a thread defers while it queues one step's work (run_and_wait holds a
/// scope): an emulated device's executor whose threads would compete with that thread for
/// the cores (host_options::threads) does not wake them task by task as work arrives, which
/// on a machine with fewer cores than threads takes the core from the queuing thread
/// mid-step; it is woken once, when the scope ends, or earlier, before the thread waits for
/// anything (every wait of the host backend and poll_until flush first), so a deferred
/// wakeup never delays work someone waits for. GPUs have no such sinks. Per thread: the
/// sinks a thread deferred are woken by that thread.
class deferred_wakeups {
 public:
  /// Something to wake: an executor. It is on at most one thread's list at a time.
  class sink {
   public:
    virtual void wake() noexcept = 0;

   protected:
    ~sink() = default;

   private:
    friend class deferred_wakeups;
    sink* next_ = nullptr;
    bool listed_ = false;  // touched only by the thread whose list holds it
  };
  /// While one lives (nested: the outermost counts), sinks this thread readies wait (defer).
  class scope {
   public:
    scope() noexcept { ++depth(); }
    ~scope() {
      if (--depth() == 0) flush();
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
  };
  /// Called by a sink instead of waking its threads: true when this thread defers wakeups
  /// (the sink's wake() then comes from flush()), false when the sink must wake them now.
  static bool defer(sink& s) noexcept {
    if (depth() == 0) return false;
    if (!s.listed_) {
      s.listed_ = true;
      s.next_ = head();
      head() = &s;
    }
    return true;
  }
  /// Wakes every sink this thread deferred (the scope stays, deferring what comes next).
  static void flush() noexcept {
    while (sink* s = head()) {
      head() = s->next_;
      s->next_ = nullptr;
      s->listed_ = false;
      s->wake();
    }
  }

 private:
  static int& depth() noexcept {
    static thread_local int d = 0;
    return d;
  }
  static sink*& head() noexcept {
    static thread_local sink* h = nullptr;
    return h;
  }
};

/// A span of a shard's queue running work: a primitive ("sort", "merge_runs", ... as
/// primitive/dispatch.hpp names them) or a copy, on the host's steady clock.
struct activity {
  const char* name;  // a string literal
  bool copy;         // a copy between buffers (else a primitive)
  std::chrono::steady_clock::time_point begin, end;
};

/// The primitive the calling thread dispatched last (primitive/dispatch.hpp sets it as it
/// dispatches): the name a device gives the work it queues for it.
inline const char*& last_primitive() noexcept {
  static thread_local const char* name = "primitive";
  return name;
}

/// Nanoseconds covered by at least one of `spans` (sorted here by begin): a device's busy time
/// when its two queues overlap.
inline std::uint64_t covered_ns(std::vector<activity>& spans) {
  std::sort(spans.begin(), spans.end(), [](const activity& a, const activity& b) { return a.begin < b.begin; });
  std::uint64_t total = 0;
  std::chrono::steady_clock::time_point from{}, to{};
  bool open = false;
  for (const auto& a : spans) {
    if (open && a.begin <= to) {
      if (a.end > to) to = a.end;
      continue;
    }
    if (open) total += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
    from = a.begin, to = a.end, open = true;
  }
  if (open) total += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
  return total;
}

/// Polls `done()` until it returns true or `deadline` passes; returns whether it did. Spins
/// (yielding) for the first 200 us, as a host wait on a GPU typically lasts tens of
/// microseconds, then sleeps between polls, 20 us growing to `longest` (1 ms; MPI's waits
/// take less, as MPI progresses only inside its calls).
template <class Done>
bool poll_until(Done&& done, std::chrono::steady_clock::time_point deadline,
                std::chrono::microseconds longest = std::chrono::microseconds(1000)) {
  using namespace std::chrono;
  deferred_wakeups::flush();  // what this thread queued runs while it polls
  const auto start = steady_clock::now();
  microseconds pause{20};
  for (;;) {
    if (done()) return true;
    const auto now = steady_clock::now();
    if (now >= deadline) return false;
    if (now - start < microseconds(200)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::min<steady_clock::duration>(pause, deadline - now));
      pause = std::min(pause * 2, longest);
    }
  }
}

/// One shard: an in-order queue of work on one device, plus memory on that device.
/// Everything "async" is ordered after the work already in this shard's queue; the host
/// waits with synchronize().
class device {
 public:
  virtual ~device() = default;
  virtual backend kind() const noexcept = 0;
  /// Shard index within its context.
  virtual int shard() const noexcept = 0;
  /// CUDA device ordinal, or the emulated device's index.
  virtual int ordinal() const noexcept = 0;
  /// The device's name, memory, multiprocessors and bus id.
  virtual device_properties properties() const = 0;

  /// free_memory()'s answer when the device cannot tell.
  static constexpr std::uint64_t unknown_memory = UINT64_MAX;
  /// Bytes this shard could still allocate now: a GPU's free memory plus what shard's pool
  /// holds unused; the emulated device's capacity left (memory_per_shard). unknown_memory
  /// when it cannot tell (no capacity set; an application's allocator, whose pool may hold
  /// memory the runtime counts as used). Shards on one device share it.
  virtual std::uint64_t free_memory() const { return unknown_memory; }

  /// Device memory of `bytes` bytes (nullptr for 0). Throws out_of_memory.
  virtual void* allocate(std::size_t bytes) = 0;
  /// Returns memory from allocate(); ordered after the work already queued. Never throws.
  virtual void deallocate(void* p, std::size_t bytes) noexcept = 0;

  /// Page-locked host memory that this device's copies can use at full speed (the staging
  /// buffers of shard-to-shard copies without peer access). Throws out_of_memory.
  virtual void* allocate_host(std::size_t bytes) = 0;
  /// Returns memory from allocate_host(). The caller makes sure no queue still uses it.
  virtual void deallocate_host(void* p, std::size_t bytes) noexcept = 0;

  /// Async copies between host memory and this device. The host memory must stay valid until
  /// the queue has run them, and on a device where host_copies_need_pinned_memory() it must be
  /// pinned (allocate_host): a GPU copies pageable memory only by blocking the calling thread
  /// until its queue reaches the copy, a wait without a deadline (transport/host.hpp stages
  /// such transfers instead).
  virtual void copy_from_host(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) = 0;
  /// See copy_from_host: true on GPUs; on the host backend an option, to test that path.
  virtual bool host_copies_need_pinned_memory() const noexcept = 0;
  /// Whether `p` is pinned host memory this device's copies can use asynchronously.
  virtual bool is_pinned(const void* p) const = 0;
  /// Empty when `p` may be memory of this device (what the application hands shard to wrap);
  /// otherwise what it is instead ("host memory", "memory of GPU 1"). The host emulation cannot
  /// tell its devices' memory from other host memory and accepts every pointer.
  virtual std::string foreign_memory(const void* p) const {
    (void)p;
    return {};
  }
  /// Copy between two buffers of this device (also of two shards sharing this device).
  virtual void copy_local(void* dst, const void* src, std::size_t bytes) = 0;
  /// Copy from another shard's memory into this shard's memory, on this shard's queue. The
  /// caller orders it against the source's queue with events (transport/copy.hpp).
  virtual void copy_from_peer(void* dst, const device& source, const void* src, std::size_t bytes) = 0;
  /// Copy from this shard's memory into another shard's memory, on this shard's queue (the
  /// source pushes: a p2p write). Ordering against the destination's queue as for
  /// copy_from_peer.
  virtual void copy_to_peer(const device& destination, void* dst, const void* src, std::size_t bytes) = 0;

  /// One copy of a batch: from `source`'s memory (null: this device's own) into this device.
  struct copy_item {
    void* dst;
    const device* source;
    const void* src;
    std::size_t bytes;
  };
  /// The copies of `items`, in order, on this shard's queue (an exchange's pulls into one
  /// destination). This default issues each one (copy_local / copy_from_peer); the host
  /// emulation makes the batch one task.
  virtual void copy_batch(const std::vector<copy_item>& items) {
    for (const auto& c : items) {
      if (c.source == nullptr) copy_local(c.dst, c.src, c.bytes);
      else copy_from_peer(c.dst, *c.source, c.src, c.bytes);
    }
  }

  /// A second in-order queue of this shard on the same device, for copies that run beside the
  /// work of this queue (a stencil's halo exchange while the interiors are computed): on a GPU
  /// a second stream of shard's own (the copy engines run beside the multiprocessors), on the
  /// host emulation a second queue with a thread of its own (or the same pool). Nothing orders
  /// the two queues but events. Made on first use and kept with the device, whose
  /// synchronize(), idle(), wait_until() and abandon() cover it too. Only copies, records and
  /// waits go there: it allocates nothing. A device with a single queue returns itself (the
  /// copies then follow the work queued before them, still correctly ordered).
  virtual device& copy_queue() { return *this; }

  /// Marks the current end of the queue.
  virtual std::shared_ptr<event> record() = 0;
  /// As record(), with a timestamp that elapsed_ms() can read (a CUDA event with timing).
  virtual std::shared_ptr<event> record_timed() = 0;
  /// Milliseconds between two reached events recorded with record_timed() on this device.
  virtual double elapsed_ms(const event& start, const event& stop) const = 0;
  /// Work queued after this call starts after `e` has been reached.
  virtual void wait(std::shared_ptr<event> e) = 0;
  /// Work queued after this call starts after every event of `events` has been reached (an
  /// exchange's waits for its G sources at once). This default waits for each in turn; the
  /// host emulation makes it one task.
  virtual void wait_all(const std::vector<std::shared_ptr<event>>& events) {
    for (const auto& e : events) wait(e);
  }

  /// Brackets the work one primitive launch queues (detail::launch): a device that learns
  /// when its work ran only afterwards (a GPU) records timed events around it; the host
  /// emulation times every task as it runs instead (no-ops). `name`: last_primitive().
  virtual void activity_begin() {}
  virtual void activity_end(const char* name) { (void)name; }
  /// The spans of work (primitives, copies; of both queues) that ran since the last call, for
  /// the stats' busy time and the trace. Called once the queues are idle (after synchronize);
  /// appends them to `spans`.
  virtual void take_activity(std::vector<activity>& spans) { (void)spans; }

  /// Whether the device has had a sticky fault (device_fault): unusable for the rest of the
  /// process (a GPU), or of the context (the host emulation). Does not block or throw.
  virtual bool faulted() noexcept { return false; }

  /// Blocks the host until the queue is empty; throws the first error of the queued work.
  virtual void synchronize() = 0;
  /// Whether the queue has run everything queued so far (does not block, does not throw for
  /// failed work: synchronize() reports that).
  virtual bool idle() = 0;
  /// Blocks until the queue is empty or `deadline` passes; returns whether it is empty. Does
  /// not throw for failed work. This default polls idle() (poll_until).
  virtual bool wait_until(std::chrono::steady_clock::time_point deadline) {
    return poll_until([this] { return idle(); }, deadline);
  }
  /// The context gave up on this device (a wait passed its deadline): its queued work may
  /// never finish. Destructors then neither wait for the queue nor fail; the host emulation
  /// also drops the queued work, of every queue of the context at once (one dropping its work
  /// signals its events, which must not start another queue's work). Never throws.
  virtual void abandon() noexcept = 0;
};

}  // namespace detail
SHARD_NAMESPACE_END
