#pragma once
/// @file backend/host/device.hpp
/// An emulated device: an in-order queue (like a CUDA stream) run by a thread of its own or by
/// a pool of threads that several devices share (executor), host memory with an optional
/// capacity, and hooks that make it fail the way a GPU fails: a
/// failed kernel, a sticky device fault, a kernel that never finishes.
#include <shard/allocator.hpp>
#include <shard/config.hpp>
#include <shard/core/device.hpp>
#include <shard/error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#  include <sys/prctl.h>
#endif

SHARD_NAMESPACE_BEGIN
namespace host_backend {

class device;

/// What an event wakes when it is reached: the device parked on it, while that device lives
/// (the device clears it when it is destroyed; an event may outlive its waiters).
struct wake_handle {
  std::mutex mutex;
  device* waiter = nullptr;
  void wake() noexcept;  // below device
};

/// Reached when the queue that recorded it has run up to the record point. A queue whose next
/// task waits for it parks (takes no thread) until it is signalled.
class host_event final : public detail::event {
 public:
  void signal() {
    std::vector<std::shared_ptr<wake_handle>> waiters;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reached_ = true;
      when_ = std::chrono::steady_clock::now();
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) w->wake();
  }
  /// Registers `w` to be woken when the event is reached; false when it is already reached.
  bool add_waiter(const std::shared_ptr<wake_handle>& w) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (reached_) return false;
    waiters_.push_back(w);
    return true;
  }
  bool reached() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return reached_;
  }
  /// When the queue reached the event (valid once reached).
  std::chrono::steady_clock::time_point when() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return when_;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::vector<std::shared_ptr<wake_handle>> waiters_;
  bool reached_ = false;
  std::chrono::steady_clock::time_point when_{};
};

/// The OS threads that run emulated devices' queues (host_options::threads): one per device,
/// or a pool that several devices share. A device with work is on the ready list once; a
/// thread takes it, runs its next tasks (device::step, up to turn_tasks of them) and puts it
/// back at the end of the list while it has more, so the devices of a pool take turns. A queue never
/// blocks a thread: a wait for an event that is not reached parks the device (it leaves the
/// list until the event wakes it), so a pool of any size makes progress.
class executor final : private detail::deferred_wakeups::sink {
 public:
  /// Something with a queue: step() runs its next task; true when it has more to run.
  class client {
   public:
    virtual bool step() noexcept = 0;

   protected:
    ~client() = default;

   private:
    friend class executor;
    client* next_ = nullptr;  // the ready list is intrusive: putting a client there cannot fail
  };

  /// `defer`: its threads would compete with the thread that queues work for the cores (as
  /// many threads as cores, or more): while that thread queues a step (a
  /// detail::deferred_wakeups scope), the work waits for the end of the queuing, or for its
  /// first wait, instead of waking a thread per task.
  explicit executor(std::size_t threads, bool defer = false) : defer_(defer) {
    try {
      for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
    } catch (...) {
      stop();
      throw;
    }
  }
  ~executor() { stop(); }
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  std::size_t threads() const noexcept { return threads_.size(); }
  /// Whether it defers wakeups while a thread queues a step (the constructor's `defer`).
  bool defers() const noexcept { return defer_; }

  /// The most tasks of one client a thread runs before it takes the next client.
  static constexpr std::size_t turn_tasks = 16;

  /// Wakes `h`'s device at `t` (a slow emulated device's kernel ends then): a thread of the
  /// pool waits for the earliest such time while it has nothing else to run. The device is
  /// parked meanwhile and holds no thread.
  void wake_at(std::chrono::steady_clock::time_point t, std::shared_ptr<wake_handle> h) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      timers_.emplace_back(t, std::move(h));
      std::push_heap(timers_.begin(), timers_.end(), later);
    }
    cv_.notify_one();
  }

  /// Puts `c` at the end of the ready list (it must not be there already).
  void ready(client* c) noexcept {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      c->next_ = nullptr;
      if (tail_) tail_->next_ = c;
      else head_ = c;
      tail_ = c;
    }
    if (defer_ && detail::deferred_wakeups::defer(*this)) return;
    cv_.notify_one();
  }

 private:
  void wake() noexcept override { cv_.notify_all(); }
  void run() noexcept {
#if defined(__linux__)
    // A slow emulated device (host_options::speed) parks for the rest of each kernel's time
    // until a timer this thread waits for: without this, Linux ends such a wait up to 50 us
    // late, which dwarfs a short kernel's stretch.
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      fire_due_timers(lock);
      if (head_ == nullptr) {
        if (stopping_) return;  // stopping, and every client has left the list
        if (timers_.empty()) cv_.wait(lock, [&] { return stopping_ || head_ != nullptr || !timers_.empty(); });
        else cv_.wait_until(lock, timers_.front().first);
        continue;
      }
      client* c = head_;
      head_ = c->next_;
      if (head_ == nullptr) tail_ = nullptr;
      lock.unlock();
      // A turn runs up to `turn_tasks` of the client's tasks: a device's consecutive tasks
      // mostly read what the one before wrote, still in this core's cache.
      bool more = true;  // when false, c may be gone as soon as step returned
      for (std::size_t n = 0; more && n < turn_tasks; ++n) more = c->step();
      lock.lock();
      if (more) {
        c->next_ = nullptr;
        if (tail_) tail_->next_ = c;
        else head_ = c;
        tail_ = c;
      }
    }
  }
  /// Wakes the devices whose time has come (outside the lock: waking one readies it here).
  void fire_due_timers(std::unique_lock<std::mutex>& lock) noexcept {
    if (timers_.empty() || timers_.front().first > std::chrono::steady_clock::now()) return;
    std::vector<std::shared_ptr<wake_handle>> due;
    const auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.front().first <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), later);
      try {
        due.push_back(std::move(timers_.back().second));
      } catch (...) {  // no memory: wake it at once, under the lock is not allowed, so keep it
        std::push_heap(timers_.begin(), timers_.end(), later);
        break;
      }
      timers_.pop_back();
    }
    lock.unlock();
    for (auto& h : due) h->wake();
    due.clear();
    lock.lock();
  }
  using timer = std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<wake_handle>>;
  static bool later(const timer& a, const timer& b) noexcept { return a.first > b.first; }

  void stop() noexcept {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  client* head_ = nullptr;
  client* tail_ = nullptr;
  std::vector<timer> timers_;  // a min-heap by time (wake_at)
  bool stopping_ = false;
  const bool defer_;
  std::vector<std::thread> threads_;
};

/// The pinned host memory of one context's emulated devices (what cudaHostAlloc with
/// cudaHostAllocPortable gives: usable by every device). Only consulted when the devices
/// emulate a GPU's rule that host copies need pinned memory.
class pinned_registry {
 public:
  void add(const void* p, std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges_[reinterpret_cast<std::uintptr_t>(p)] = bytes;
  }
  void remove(const void* p) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges_.erase(reinterpret_cast<std::uintptr_t>(p));
  }
  /// Whether [p, p + bytes) lies inside one pinned allocation.
  bool contains(const void* p, std::size_t bytes) const {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = ranges_.upper_bound(a);
    if (it == ranges_.begin()) return false;
    --it;
    return a + bytes <= it->first + it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::uintptr_t, std::size_t> ranges_;
};

/// One emulated device.
///
/// Failures, as on a GPU: after a task fails, the queue skips the compute and copy tasks that
/// follow, but still signals events and honours waits, so no other queue waiting on it
/// deadlocks; synchronize() rethrows the first failure and clears it. A device fault is
/// sticky instead: from then on every call on the device throws device_fault and
/// synchronize() keeps throwing it, until the device is destroyed.
class device final : public detail::device, private executor::client {
 public:
  static constexpr std::size_t alignment = 256;  // what cudaMalloc guarantees

  /// `capacity`: bytes of memory, 0 = unlimited. `pinned`: when not null, host copies must
  /// use pinned memory registered there (the rule a GPU imposes; checked). `cuda_semantics`:
  /// the primitives take the freedoms their CUB counterparts document (gpu_order.hpp).
  /// `threads`: the executor that runs the queue; without one the device gets a thread of its
  /// own. `pooled`: that executor is a pool the context's devices share (host_options::threads),
  /// which the copy queue then shares too; otherwise the copy queue gets a thread of its own.
  /// `abandoned`: a flag every device of one context shares (made here when null): the first
  /// abandon() of any of them sets it, and from then on none of them runs compute or copy
  /// work, so no queue can run a kernel on bytes another queue dropped.
  device(int shard, std::size_t capacity, std::shared_ptr<pinned_registry> pinned = nullptr,
         bool cuda_semantics = false, std::shared_ptr<executor> threads = nullptr, shard::allocator memory = {},
         bool pooled = false, std::shared_ptr<std::atomic<bool>> abandoned = nullptr)
      : shard_(shard),
        pooled_(pooled),
        capacity_(capacity),
        memory_(std::move(memory)),
        pinned_(std::move(pinned)),
        cuda_semantics_(cuda_semantics),
        handle_(std::make_shared<wake_handle>()),
        abandoned_(abandoned ? std::move(abandoned) : std::make_shared<std::atomic<bool>>(false)),
        executor_(threads ? std::move(threads) : std::make_shared<executor>(1)) {
    handle_->waiter = this;
  }
  ~device() override {
    side_.reset();  // the copy queue first: its waits end (cancelled), its queue drains
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cancelled_ = true;  // a hung task (test hook) ends, as a process exit ends a kernel
      const bool again = unpark_locked();
      lock.unlock();
      if (again) executor_->ready(this);
      detail::deferred_wakeups::flush();
      lock.lock();
      // The queue drains (only control tasks run now) and leaves the executor's list.
      idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_ && !scheduled_; });
    }
    std::lock_guard<std::mutex> lock(handle_->mutex);
    handle_->waiter = nullptr;  // events reached from now on wake nothing here
  }
  device(const device&) = delete;
  device& operator=(const device&) = delete;

  backend kind() const noexcept override { return backend::host; }
  /// Whether the primitives emulate the orders and instabilities a GPU's CUB calls may show
  /// (host_options::cuda_semantics).
  bool cuda_semantics() const noexcept { return cuda_semantics_; }
  int shard() const noexcept override { return shard_; }
  int ordinal() const noexcept override { return shard_; }
  device_properties properties() const override {
    device_properties p;
    p.ordinal = shard_;
    p.name = "emulated device (host thread)";
    p.memory_bytes = capacity_;
    p.multiprocessors = 1;
    p.bus_id = "host";
    return p;
  }

  std::uint64_t free_memory() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return capacity_ == 0 ? unknown_memory : capacity_ - in_use_;
  }

  /// What a GPU's primitive takes of its device's memory beyond its buffers (a radix sort's
  /// second buffer, CUB's temporary storage), which the emulated primitives keep on the host's
  /// heap instead: `bytes` of the device's capacity held while the primitive is queued, as a
  /// GPU's stream-ordered allocation and free around it (cudaMallocFromPoolAsync, the kernels,
  /// cudaFreeAsync) hold them: work queued afterwards on the same queue reuses them, as
  /// deallocate() makes memory reusable at once. So memory_per_shard runs out where a GPU's
  /// memory would. Nothing is allocated; without a capacity it holds nothing. Throws
  /// out_of_memory.
  class scratch_hold {
   public:
    scratch_hold(device& d, std::size_t bytes, const char* what) : d_(d) {
      std::lock_guard<std::mutex> lock(d.mutex_);
      if (d.capacity_ == 0 || bytes == 0) return;
      d.throw_if_faulted(what);
      if (d.in_use_ + bytes > d.capacity_) throw out_of_memory(d.shard_, d.shard_, bytes, d.capacity_ - d.in_use_, what);
      d.in_use_ += bytes;
      bytes_ = bytes;
    }
    ~scratch_hold() {
      if (bytes_ == 0) return;
      std::lock_guard<std::mutex> lock(d_.mutex_);
      d_.in_use_ -= bytes_;
    }
    scratch_hold(const scratch_hold&) = delete;
    scratch_hold& operator=(const scratch_hold&) = delete;

   private:
    device& d_;
    std::size_t bytes_ = 0;
  };

  void* allocate(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      throw_if_faulted("allocate");
      if (capacity_ != 0 && in_use_ + bytes > capacity_)
        throw out_of_memory(shard_, shard_, bytes, capacity_ - in_use_, "allocate");
      in_use_ += bytes;
    }
    void* p = nullptr;
    if (memory_) {
      try {
        p = detail::allocate_from(memory_, bytes, place());
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        in_use_ -= bytes;
        throw;
      }
      return p;
    }
    p = ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
    if (p == nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use_ -= bytes;
      throw out_of_memory(shard_, shard_, bytes, 0, "operator new");
    }
    return p;
  }
  /// Stream-ordered, like cudaFreeAsync: freed at once when the queue is empty (the usual
  /// case: every public call waits for its shards), else after the work queued so far.
  void deallocate(void* p, std::size_t bytes) noexcept override {
    if (p == nullptr) return;
    bool now = false, again = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use_ -= bytes;
      now = queue_.empty() && !busy_;
      if (!now) {
        try {
          queue_.push_back(task{[this, p, bytes] { release(p, bytes); }, task_kind::control});
          again = schedule_locked();
        } catch (...) {
          now = true;  // could not queue it: the caller is the last user in every public path
        }
      }
    }
    if (now) release(p, bytes);
    else if (again) executor_->ready(this);
  }

  /// Where this device allocates, for the application's allocator (no stream: the queue is
  /// the device's own).
  allocation_place place() const noexcept { return allocation_place{static_cast<std::size_t>(shard_), shard_, nullptr}; }

  void* allocate_host(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
    if (p == nullptr) throw out_of_memory(shard_, shard_, bytes, 0, "operator new (pinned host memory)");
    if (pinned_) {
      try {
        pinned_->add(p, bytes);
      } catch (...) {
        ::operator delete(p, std::align_val_t(alignment));
        throw;
      }
    }
    return p;
  }
  void deallocate_host(void* p, std::size_t) noexcept override {
    if (p == nullptr) return;
    if (pinned_) pinned_->remove(p);
    ::operator delete(p, std::align_val_t(alignment));
  }

  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    check_pinned(src, bytes, "copy_from_host");
    copy_task(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    check_pinned(dst, bytes, "copy_to_host");
    copy_task(dst, src, bytes);
  }
  bool host_copies_need_pinned_memory() const noexcept override { return pinned_ != nullptr; }
  bool is_pinned(const void* p) const override { return pinned_ != nullptr && pinned_->contains(p, 1); }
  void copy_local(void* dst, const void* src, std::size_t bytes) override { copy_task(dst, src, bytes); }
  void copy_from_peer(void* dst, const detail::device&, const void* src, std::size_t bytes) override {
    copy_task(dst, src, bytes);
  }
  void copy_batch(const std::vector<copy_item>& items) override {
    std::vector<copy_item> copies;
    for (const auto& c : items)
      if (c.bytes != 0) copies.push_back(c);
    if (copies.empty()) return;
    push(
        [copies = std::move(copies)] {
          for (const auto& c : copies) std::memcpy(c.dst, c.src, c.bytes);
        },
        task_kind::copy, "copy");
  }
  void copy_to_peer(const detail::device&, void* dst, const void* src, std::size_t bytes) override {
    copy_task(dst, src, bytes);
  }

  /// A second queue of this emulated device (detail::device::copy_queue): a thread of its own,
  /// or the context's pool. Copies only: it has no capacity of its own and no test hooks.
  detail::device& copy_queue() override {
    std::lock_guard<std::mutex> lock(side_mutex_);
    if (!side_)
      side_ = std::make_unique<device>(shard_, 0, pinned_, cuda_semantics_,
                                       pooled_ ? executor_ : std::make_shared<executor>(1, executor_->defers()),
                                       shard::allocator{}, false, abandoned_);
    return *side_;
  }

  std::shared_ptr<detail::event> record() override {
    auto e = std::make_shared<host_event>();
    push([e] { e->signal(); }, task_kind::control, "record");
    return e;
  }
  std::shared_ptr<detail::event> record_timed() override { return record(); }
  double elapsed_ms(const detail::event& start, const detail::event& stop) const override {
    const auto a = static_cast<const host_event&>(start).when();
    const auto b = static_cast<const host_event&>(stop).when();
    return std::chrono::duration<double, std::milli>(b - a).count();
  }
  void wait(std::shared_ptr<detail::event> e) override { wait_all({std::move(e)}); }
  /// One task that waits for every event (skipping those already reached): the queue parks
  /// until they are.
  void wait_all(const std::vector<std::shared_ptr<detail::event>>& events) override {
    std::vector<std::shared_ptr<const host_event>> pending;
    for (const auto& e : events)
      if (e && !e->reached()) pending.push_back(std::static_pointer_cast<const host_event>(e));
    if (pending.empty()) return;  // every source is past its record point already
    push(task{nullptr, task_kind::control, std::move(pending)}, "wait");
  }

  void synchronize() override {
    detail::deferred_wakeups::flush();
    std::exception_ptr failure;
    if (device* side = copy_queue_if_made()) {
      try {
        side->synchronize();
      } catch (...) {
        failure = std::current_exception();
      }
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
      // The caller takes its own reference (sticky) or the only one (error_), under the
      // lock: the worker never touches an exception object after handing it over.
      if (sticky_) failure = sticky_;
      else if (error_) failure = std::exchange(error_, nullptr);
    }
    if (failure) std::rethrow_exception(failure);
  }

  bool faulted() noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sticky_ != nullptr;
  }

  void take_activity(std::vector<detail::activity>& spans) override {
    if (device* side = copy_queue_if_made()) side->take_activity(spans);
    std::lock_guard<std::mutex> lock(mutex_);
    spans.insert(spans.end(), spans_.begin(), spans_.end());
    spans_.clear();
  }

  bool idle() override {
    if (device* side = copy_queue_if_made(); side != nullptr && !side->idle()) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty() && !busy_;
  }

  bool wait_until(std::chrono::steady_clock::time_point deadline) override {
    detail::deferred_wakeups::flush();
    if (device* side = copy_queue_if_made(); side != nullptr && !side->wait_until(deadline)) return false;
    std::unique_lock<std::mutex> lock(mutex_);
    return idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !busy_; });
  }

  void abandon() noexcept override {
    // Every queue of the context stops running work at once, before any wait here ends: a
    // queue abandoned later (or not at all, being idle now) would otherwise run a copy or a
    // kernel on bytes that never came, once this queue's events are signalled as it drops
    // its work.
    abandoned_->store(true);
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
      again = unpark_locked();
    }
    if (device* side = copy_queue_if_made()) side->abandon();
    if (again) executor_->ready(this);
  }

  /// Enqueues a primitive (a "kernel"). Counts towards the test hooks below.
  void launch(std::function<void()> fn) { push(task{std::move(fn), task_kind::primitive}, "launch"); }

  /// Test hooks, each counting primitives launched from now on (k >= 1; k = 0 disarms):
  /// the k-th fails with shard::error (the device recovers, like after a failed launch);
  void fail_primitive(std::uint64_t k) { arm(hook::fail, k); }
  /// the k-th faults: device_fault, sticky until the device is destroyed;
  void fault_primitive(std::uint64_t k) { arm(hook::fault, k); }
  /// the k-th never finishes (until the device is abandoned or destroyed).
  void hang_primitive(std::uint64_t k) { arm(hook::hang, k); }

  /// Makes the device `k` times as fast as the host runs it (0 < k <= 1; host_options::speed):
  /// every primitive takes 1/k of the CPU time it used. Set before any work is queued.
  void set_speed(double k) noexcept { speed_ = k; }
  double speed() const noexcept { return speed_; }

  /// Bytes currently allocated on this emulated device.
  std::size_t bytes_in_use() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
  }

 private:
  /// The copy queue, or null when none was made.
  device* copy_queue_if_made() const noexcept {
    std::lock_guard<std::mutex> lock(side_mutex_);
    return side_.get();
  }
  /// Gives memory of allocate() back (now, or from the queue once the work before it ran).
  void release(void* p, std::size_t bytes) noexcept {
    if (memory_) memory_.deallocate(p, bytes, place());
    else ::operator delete(p, std::align_val_t(alignment));
  }
  enum class task_kind { primitive, copy, control };
  enum class hook { none, fail, fault, hang };
  struct task {
    task() = default;
    task(std::function<void()> f, task_kind k, std::vector<std::shared_ptr<const host_event>> w = {})
        : fn(std::move(f)), kind(k), waits(std::move(w)) {}
    std::function<void()> fn;
    task_kind kind = task_kind::control;
    const char* name = nullptr;  // what the activity is called (primitives, copies)
    // A slow device's kernel (host_options::speed) that ran on the host and lasts until `until`:
    // the queue parks until then (a timer), then records the activity from `began`.
    bool stretch = false;
    std::chrono::steady_clock::time_point began{}, until{};
    std::vector<std::shared_ptr<const host_event>> waits;  // before fn runs: the queue parks until reached
    bool hang = false;  // test hook: the queue parks until cancelled
  };

  void arm(hook h, std::uint64_t k) {
    std::lock_guard<std::mutex> lock(mutex_);
    hook_ = k == 0 ? hook::none : h;
    hook_at_ = k;
    launched_since_armed_ = 0;
  }

  /// Call with mutex_ held. True when the device must be put on the executor's list (it was
  /// neither there, nor running, nor parked).
  bool schedule_locked() noexcept {
    if (scheduled_ || parked_) return false;
    scheduled_ = true;
    return true;
  }
  /// Call with mutex_ held: ends a park (the event was reached, or the queue is cancelled).
  /// True when the device must be put on the executor's list.
  bool unpark_locked() noexcept {
    if (!parked_) return false;
    parked_ = false;
    return schedule_locked();
  }
  friend struct wake_handle;
  void wake() noexcept {
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      again = unpark_locked();
    }
    if (again) executor_->ready(this);
  }

  /// Call with mutex_ held: what a GPU's runtime does after a sticky fault.
  void throw_if_faulted(const char* call) const {
    if (!sticky_) return;
    throw device_fault("injected device fault (test hook): an earlier kernel on this device faulted", shard_, shard_,
                       call);
  }

  void check_pinned(const void* host, std::size_t bytes, const char* call) const {
    if (bytes == 0 || !pinned_ || pinned_->contains(host, bytes)) return;
    throw invalid_argument(std::string("host_backend::device::") + call +
                           ": host memory that is not pinned (a GPU copies pageable memory only by blocking the "
                           "calling thread; stage it through allocate_host memory)");
  }

  void copy_task(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    push([dst, src, bytes] { std::memcpy(dst, src, bytes); }, task_kind::copy, "copy");
  }
  void push(std::function<void()> fn, task_kind kind, const char* call) { push(task{std::move(fn), kind}, call); }

  void push(task t, const char* call) {
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      throw_if_faulted(call);
      if (t.kind == task_kind::primitive && hook_ != hook::none && ++launched_since_armed_ == hook_at_) {
        const int s = shard_;
        switch (std::exchange(hook_, hook::none)) {
          case hook::fail:
            t.fn = [s] { throw error("injected failure of a primitive (test hook)", s, s, "primitive"); };
            break;
          case hook::fault:
            t.fn = [s] {
              throw device_fault("injected device fault of a primitive (test hook)", s, s, "primitive");
            };
            break;
          case hook::hang:
            t.fn = nullptr;
            t.hang = true;
            break;
          case hook::none:
            break;
        }
      }
      if (t.kind == task_kind::primitive) t.name = detail::last_primitive();
      else if (t.kind == task_kind::copy) t.name = "copy";
      queue_.push_back(std::move(t));
      again = schedule_locked();
    }
    if (again) executor_->ready(this);
  }

  /// The CPU time the calling thread has used (a slow device's work is stretched by it).
  static std::chrono::nanoseconds thread_cpu_time() noexcept {
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return std::chrono::nanoseconds(0);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }

  /// On an executor thread: runs the next task, or parks the queue on a wait that is not
  /// reached. True when the device stays on the executor's list (it has more to run).
  bool step() noexcept override {
    task t;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) {
        scheduled_ = false;
        idle_cv_.notify_all();
        return false;
      }
      task& head = queue_.front();
      // Once abandoned or stopping, waits and hangs end at once (the queue is being dropped).
      if (abandoned_->load()) cancelled_ = true;  // another queue of the context was abandoned
      if (!cancelled_) {
        while (!head.waits.empty()) {
          bool registered = false;
          try {
            registered = head.waits.back()->add_waiter(handle_);
          } catch (...) {
            return true;  // no memory to register: stay on the list and look again next turn
          }
          if (registered) {
            parked_ = true;  // woken by the event (wake_handle), or by abandon
            return scheduled_ = false;
          }
          head.waits.pop_back();
        }
        if (head.hang && !error_ && !sticky_) {
          parked_ = true;  // until abandoned or destroyed
          return scheduled_ = false;
        }
      }
      if (head.stretch) {
        const auto now = std::chrono::steady_clock::now();
        if (!cancelled_ && now < head.until) {
          try {
            executor_->wake_at(head.until, handle_);
          } catch (...) {
            return true;  // no memory for the timer: stay on the list and look again
          }
          parked_ = true;  // the timer (or a cancellation) wakes it
          return scheduled_ = false;
        }
        try {
          spans_.push_back(detail::activity{head.name, false, head.began, cancelled_ ? now : head.until});
        } catch (...) {  // no memory for the record: the busy time misses it
        }
        queue_.pop_front();
        if (!queue_.empty()) return true;
        scheduled_ = false;
        idle_cv_.notify_all();
        return false;
      }
      t = std::move(head);
      queue_.pop_front();
      busy_ = true;
      // After a failure or a fault, or once abandoned or stopping, only control tasks run
      // (events are signalled, waits end, memory is freed), as a GPU's queue after a fault.
      if ((error_ || sticky_ || cancelled_) && t.kind != task_kind::control) t.fn = nullptr;
    }
    std::exception_ptr failure;
    const bool timed = t.fn && t.kind != task_kind::control;
    const auto begin = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    std::chrono::nanoseconds stretch{0};
    if (t.fn) {
      try {
        if (t.kind == task_kind::primitive && speed_ < 1.0) {
          // An emulated device k times slower (host_options::speed): its kernels take 1/k of
          // the CPU time they used; the rest the queue spends parked (a timer), holding no
          // thread, as a slow GPU holds no host core.
          const auto cpu = thread_cpu_time();
          t.fn();
          stretch = std::chrono::duration_cast<std::chrono::nanoseconds>((thread_cpu_time() - cpu) * (1.0 / speed_ - 1.0));
        } else {
          t.fn();
        }
      } catch (const device_fault&) {
        failure = std::current_exception();
        std::lock_guard<std::mutex> lock(mutex_);
        if (!sticky_) sticky_ = std::move(failure);
        failure = nullptr;
      } catch (...) {
        failure = std::current_exception();
      }
    }
    const auto end = timed ? std::chrono::steady_clock::now() : begin;
    const char* name = t.name;
    const bool copy = t.kind == task_kind::copy;
    t = task{};  // the task's captures die on this thread, before the hand-over
    std::lock_guard<std::mutex> lock(mutex_);
    bool stretched = false;
    if (timed && stretch.count() > 0 && !failure) {
      // The kernel lasts until end + stretch: the queue's next step waits for that.
      try {
        task rest;
        rest.kind = task_kind::control;
        rest.name = name != nullptr ? name : "primitive";
        rest.stretch = true;
        rest.began = begin;
        rest.until = end + stretch;
        queue_.push_front(std::move(rest));
        stretched = true;
      } catch (...) {  // no memory: the kernel ends now (faster than asked)
      }
    }
    if (timed && !stretched) {
      try {
        spans_.push_back(detail::activity{name != nullptr ? name : "primitive", copy, begin, end});
      } catch (...) {  // no memory for the record: the busy time misses this span, nothing else
      }
    }
    if (failure && !error_) error_ = std::move(failure);
    failure = nullptr;  // dropped under the lock: the caller may own the object next
    busy_ = false;
    if (!queue_.empty()) return true;
    scheduled_ = false;
    idle_cv_.notify_all();
    return false;
  }

  const int shard_;
  const bool pooled_;
  const std::size_t capacity_;
  const shard::allocator memory_;  // the application's, or empty (operator new)
  const std::shared_ptr<pinned_registry> pinned_;
  const bool cuda_semantics_;
  const std::shared_ptr<wake_handle> handle_;
  const std::shared_ptr<std::atomic<bool>> abandoned_;  // shared by the context's devices (abandon)
  mutable std::mutex mutex_;
  std::condition_variable idle_cv_;
  std::deque<task> queue_;
  bool busy_ = false;       // a task is running
  bool scheduled_ = false;  // on the executor's list, or being stepped
  bool parked_ = false;     // the next task waits (an event, or a hang until cancelled)
  bool cancelled_ = false;  // abandoned or being destroyed
  std::exception_ptr error_;
  std::exception_ptr sticky_;
  std::size_t in_use_ = 0;
  std::vector<detail::activity> spans_;  // work that ran since take_activity
  double speed_ = 1.0;                    // host_options::speed: 1 = the host's own speed
  hook hook_ = hook::none;
  std::uint64_t hook_at_ = 0;
  std::uint64_t launched_since_armed_ = 0;
  std::shared_ptr<executor> executor_;  // destroyed first, once the destructor saw the queue leave it
  mutable std::mutex side_mutex_;
  std::unique_ptr<device> side_;  // the copy queue, made on first use (reset first in the destructor)
};

inline void wake_handle::wake() noexcept {
  std::lock_guard<std::mutex> lock(mutex);
  if (waiter != nullptr) waiter->wake();
}

}  // namespace host_backend
SHARD_NAMESPACE_END
