#pragma once
/// @file backend/host/device.hpp
/// An emulated device: a worker thread running an in-order queue (like a CUDA stream), host
/// memory with an optional capacity, and hooks that make it fail the way a GPU fails: a
/// failed kernel, a sticky device fault, a kernel that never finishes.
#include <shard/config.hpp>
#include <shard/core/device.hpp>
#include <shard/error.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
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

SHARD_NAMESPACE_BEGIN
namespace host_backend {

/// Reached when the queue that recorded it has run up to the record point.
class host_event final : public detail::event {
 public:
  void signal() {
    std::lock_guard<std::mutex> lock(mutex_);
    reached_ = true;
    when_ = std::chrono::steady_clock::now();
    cv_.notify_all();
  }
  /// Blocks until reached, or until `cancelled()` (checked whenever the event is signalled or
  /// `poke()` is called).
  template <class Cancelled>
  void wait(Cancelled&& cancelled) const {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return reached_ || cancelled(); });
  }
  void poke() const {
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
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
  mutable std::condition_variable cv_;
  bool reached_ = false;
  std::chrono::steady_clock::time_point when_{};
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
class device final : public detail::device {
 public:
  static constexpr std::size_t alignment = 256;  // what cudaMalloc guarantees

  /// `capacity`: bytes of memory, 0 = unlimited. `pinned`: when not null, host copies must
  /// use pinned memory registered there (the rule a GPU imposes; checked). `cuda_semantics`:
  /// the primitives take the freedoms their CUB counterparts document (gpu_order.hpp).
  device(int shard, std::size_t capacity, std::shared_ptr<pinned_registry> pinned = nullptr,
         bool cuda_semantics = false)
      : shard_(shard), capacity_(capacity), pinned_(std::move(pinned)), cuda_semantics_(cuda_semantics) {
    worker_ = std::thread([this] { run(); });
  }
  ~device() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      cancelled_ = true;  // a hung task (test hook) ends, as a process exit ends a kernel
    }
    work_cv_.notify_all();
    poke_waits();
    worker_.join();
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

  void* allocate(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      throw_if_faulted("allocate");
      if (capacity_ != 0 && in_use_ + bytes > capacity_)
        throw out_of_memory(shard_, shard_, bytes, capacity_ - in_use_, "allocate");
      in_use_ += bytes;
    }
    void* p = ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
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
    bool now = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use_ -= bytes;
      now = queue_.empty() && !busy_;
      if (!now) {
        try {
          queue_.push_back(task{[p] { ::operator delete(p, std::align_val_t(alignment)); }, task_kind::control});
        } catch (...) {
          now = true;  // could not queue it: the caller is the last user in every public path
        }
      }
    }
    if (now) ::operator delete(p, std::align_val_t(alignment));
    else work_cv_.notify_one();
  }

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
  void wait(std::shared_ptr<detail::event> e) override {
    push([this, e = std::static_pointer_cast<const host_event>(std::move(e))] { block_on(e); }, task_kind::control,
         "wait");
  }
  /// One task that waits for each event in turn (skipping those already reached).
  void wait_all(const std::vector<std::shared_ptr<detail::event>>& events) override {
    std::vector<std::shared_ptr<const host_event>> pending;
    for (const auto& e : events)
      if (e && !e->reached()) pending.push_back(std::static_pointer_cast<const host_event>(e));
    if (pending.empty()) return;  // every source is past its record point already
    push(
        [this, pending = std::move(pending)] {
          for (const auto& e : pending) block_on(e);
        },
        task_kind::control, "wait");
  }

  void synchronize() override {
    std::exception_ptr failure;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
      // The caller takes its own reference (sticky) or the only one (error_), under the
      // lock: the worker never touches an exception object after handing it over.
      if (sticky_) failure = sticky_;
      else failure = std::exchange(error_, nullptr);
    }
    if (failure) std::rethrow_exception(failure);
  }

  bool idle() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty() && !busy_;
  }

  bool wait_until(std::chrono::steady_clock::time_point deadline) override {
    std::unique_lock<std::mutex> lock(mutex_);
    return idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !busy_; });
  }

  void abandon() noexcept override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    work_cv_.notify_all();
    poke_waits();
  }

  /// Enqueues a primitive (a "kernel"). Counts towards the test hooks below.
  void launch(std::function<void()> fn) { push(std::move(fn), task_kind::primitive, "launch"); }

  /// Test hooks, each counting primitives launched from now on (k >= 1; k = 0 disarms):
  /// the k-th fails with shard::error (the device recovers, like after a failed launch);
  void fail_primitive(std::uint64_t k) { arm(hook::fail, k); }
  /// the k-th faults: device_fault, sticky until the device is destroyed;
  void fault_primitive(std::uint64_t k) { arm(hook::fault, k); }
  /// the k-th never finishes (until the device is abandoned or destroyed).
  void hang_primitive(std::uint64_t k) { arm(hook::hang, k); }

  /// Bytes currently allocated on this emulated device.
  std::size_t bytes_in_use() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
  }

 private:
  enum class task_kind { primitive, copy, control };
  enum class hook { none, fail, fault, hang };
  struct task {
    std::function<void()> fn;
    task_kind kind;
  };

  void arm(hook h, std::uint64_t k) {
    std::lock_guard<std::mutex> lock(mutex_);
    hook_ = k == 0 ? hook::none : h;
    hook_at_ = k;
    launched_since_armed_ = 0;
  }

  /// On the worker: blocks until `e` is reached. An abandoned or stopping device stops
  /// waiting: its queue is being dropped.
  void block_on(const std::shared_ptr<const host_event>& e) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_wait_ = e;  // owned: another thread may poke it while this one waits
    }
    e->wait([this] { return cancelled(); });
    std::lock_guard<std::mutex> lock(mutex_);
    current_wait_ = nullptr;
  }
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cancelled_;
  }

  /// Wakes the worker if it is waiting on another device's event, so that it sees the
  /// cancellation (the event's lock is never taken while holding mutex_).
  void poke_waits() noexcept {
    std::shared_ptr<const host_event> waiting;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiting = current_wait_;
    }
    if (waiting) waiting->poke();
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

  void push(std::function<void()> fn, task_kind kind, const char* call) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      throw_if_faulted(call);
      if (kind == task_kind::primitive && hook_ != hook::none && ++launched_since_armed_ == hook_at_) {
        const int s = shard_;
        switch (std::exchange(hook_, hook::none)) {
          case hook::fail:
            fn = [s] { throw error("injected failure of a primitive (test hook)", s, s, "primitive"); };
            break;
          case hook::fault:
            fn = [s] {
              throw device_fault("injected device fault of a primitive (test hook)", s, s, "primitive");
            };
            break;
          case hook::hang:
            fn = [this] {
              std::unique_lock<std::mutex> hold(mutex_);
              work_cv_.wait(hold, [&] { return cancelled_; });
            };
            break;
          case hook::none:
            break;
        }
      }
      queue_.push_back(task{std::move(fn), kind});
    }
    work_cv_.notify_all();
  }

  void run() {
    for (;;) {
      task t;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        t = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        // After a failure or a fault, or once abandoned or stopping, only control tasks run
        // (events are signalled, waits end, memory is freed), as a GPU's queue after a fault.
        if ((error_ || sticky_ || cancelled_) && t.kind != task_kind::control) t.fn = nullptr;
      }
      std::exception_ptr failure;
      if (t.fn) {
        try {
          t.fn();
        } catch (const device_fault&) {
          failure = std::current_exception();
          std::lock_guard<std::mutex> lock(mutex_);
          if (!sticky_) sticky_ = std::move(failure);
          failure = nullptr;
        } catch (...) {
          failure = std::current_exception();
        }
      }
      t.fn = nullptr;  // the task's captures die on this thread, before the hand-over
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (failure && !error_) error_ = std::move(failure);
        failure = nullptr;  // dropped under the lock: the caller may own the object next
        busy_ = false;
        if (queue_.empty()) idle_cv_.notify_all();
      }
    }
  }

  const int shard_;
  const std::size_t capacity_;
  const std::shared_ptr<pinned_registry> pinned_;
  const bool cuda_semantics_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<task> queue_;
  std::shared_ptr<const host_event> current_wait_;
  bool busy_ = false;
  bool stopping_ = false;
  bool cancelled_ = false;  // abandoned or stopping
  std::exception_ptr error_;
  std::exception_ptr sticky_;
  std::size_t in_use_ = 0;
  hook hook_ = hook::none;
  std::uint64_t hook_at_ = 0;
  std::uint64_t launched_since_armed_ = 0;
  std::thread worker_;
};

}  // namespace host_backend
SHARD_NAMESPACE_END
