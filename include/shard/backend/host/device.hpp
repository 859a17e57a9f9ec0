#pragma once
/// @file backend/host/device.hpp
/// An emulated device: a worker thread running an in-order queue (like a CUDA stream), host
/// memory with an optional capacity, and a fault-injection hook for tests.
#include <shard/config.hpp>
#include <shard/detail/device.hpp>
#include <shard/error.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>

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
  void wait() const {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return reached_; });
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

/// One emulated device. After a task fails, the queue skips the compute and copy tasks that
/// follow (like a device after a fault) but still signals events and honours waits, so no
/// other queue waiting on it deadlocks; synchronize() rethrows the first failure and clears it.
class device final : public detail::device {
 public:
  static constexpr std::size_t alignment = 256;  // what cudaMalloc guarantees

  device(int shard, std::size_t capacity) : shard_(shard), capacity_(capacity) {
    worker_ = std::thread([this] { run(); });
  }
  ~device() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    worker_.join();
  }
  device(const device&) = delete;
  device& operator=(const device&) = delete;

  backend kind() const noexcept override { return backend::host; }
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
  void deallocate(void* p, std::size_t bytes) noexcept override {
    if (p == nullptr) return;
    // Every public algorithm waits for its shards before it returns or throws, so no queued
    // task can still use the memory here: freeing at once is stream-ordered.
    ::operator delete(p, std::align_val_t(alignment));
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_ -= bytes;
  }

  void* allocate_host(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
    if (p == nullptr) throw out_of_memory(shard_, shard_, bytes, 0, "operator new (host staging memory)");
    return p;
  }
  void deallocate_host(void* p, std::size_t) noexcept override {
    if (p != nullptr) ::operator delete(p, std::align_val_t(alignment));
  }

  void copy_from_host(void* dst, const void* src, std::size_t bytes) override { copy_task(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override { copy_task(dst, src, bytes); }
  void copy_local(void* dst, const void* src, std::size_t bytes) override { copy_task(dst, src, bytes); }
  void copy_from_peer(void* dst, const detail::device&, const void* src, std::size_t bytes) override {
    copy_task(dst, src, bytes);
  }

  std::shared_ptr<detail::event> record() override {
    auto e = std::make_shared<host_event>();
    push([e] { e->signal(); }, task_kind::control);
    return e;
  }
  std::shared_ptr<detail::event> record_timed() override { return record(); }
  double elapsed_ms(const detail::event& start, const detail::event& stop) const override {
    const auto a = static_cast<const host_event&>(start).when();
    const auto b = static_cast<const host_event&>(stop).when();
    return std::chrono::duration<double, std::milli>(b - a).count();
  }
  void wait(std::shared_ptr<detail::event> e) override {
    push([e = std::move(e)] { static_cast<const host_event&>(*e).wait(); }, task_kind::control);
  }

  void synchronize() override {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    if (error_) {
      auto e = std::exchange(error_, nullptr);
      std::rethrow_exception(e);
    }
  }

  bool idle() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty() && !busy_;
  }

  /// Enqueues a primitive (a "kernel"). Counts towards fault injection.
  void launch(std::function<void()> fn) { push(std::move(fn), task_kind::primitive); }

  /// Test hook: the k-th primitive launched from now on (k >= 1) throws shard::error when it
  /// runs. k = 0 disarms.
  void fail_primitive(std::uint64_t k) {
    std::lock_guard<std::mutex> lock(mutex_);
    fail_at_ = k;
    launched_since_armed_ = 0;
  }

  /// Bytes currently allocated on this emulated device.
  std::size_t bytes_in_use() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
  }

 private:
  enum class task_kind { primitive, copy, control };
  struct task {
    std::function<void()> fn;
    task_kind kind;
  };

  void copy_task(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    push([dst, src, bytes] { std::memcpy(dst, src, bytes); }, task_kind::copy);
  }

  void push(std::function<void()> fn, task_kind kind) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (kind == task_kind::primitive && fail_at_ != 0 && ++launched_since_armed_ == fail_at_) {
        const int s = shard_;
        fail_at_ = 0;
        fn = [s] { throw error("injected failure of a primitive (test hook)", s, s, "primitive"); };
      }
      queue_.push_back(task{std::move(fn), kind});
    }
    work_cv_.notify_one();
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
        if (error_ && t.kind != task_kind::control) t.fn = nullptr;  // skip work after a fault
      }
      std::exception_ptr failure;
      if (t.fn) {
        try {
          t.fn();
        } catch (...) {
          failure = std::current_exception();
        }
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (failure && !error_) error_ = failure;
        busy_ = false;
        if (queue_.empty()) idle_cv_.notify_all();
      }
    }
  }

  const int shard_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<task> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::size_t in_use_ = 0;
  std::uint64_t fail_at_ = 0;
  std::uint64_t launched_since_armed_ = 0;
  std::thread worker_;
};

}  // namespace host_backend
SHARD_NAMESPACE_END
