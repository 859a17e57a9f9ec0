#pragma once
/// @file backend/cuda/device.hpp
/// One shard on a GPU: its own stream, memory from the GPU's stream-ordered pool (owned by
/// the context, shared by the shards on that GPU), events for cross-shard ordering.
#include <shard/allocator.hpp>
#include <shard/config.hpp>
#include <shard/backend/cuda/error.hpp>
#include <shard/core/device.hpp>

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <vector>
#include <utility>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

/// The few driver functions shard needs, reached through the runtime's entry-point query so
/// that shard needs no link to libcuda. A null member: the driver does not offer it.
struct driver_api {
  CUresult (*ctx_get_current)(CUcontext*) = nullptr;
  CUresult (*ctx_set_current)(CUcontext) = nullptr;
  CUresult (*primary_ctx_get_state)(CUdevice, unsigned*, int*) = nullptr;
};

inline const driver_api& driver() noexcept {
  static const driver_api api = [] {
    driver_api a;
    auto find = [](const char* name, auto& fn) {
      void* p = nullptr;
      cudaDriverEntryPointQueryResult found{};
      if (cudaGetDriverEntryPointByVersion(name, &p, 12000, cudaEnableDefault, &found) != cudaSuccess ||
          found != cudaDriverEntryPointSuccess) {
        (void)cudaGetLastError();  // no driver, or no such function: the member stays null
        return;
      }
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
    };
    find("cuCtxGetCurrent", a.ctx_get_current);
    find("cuCtxSetCurrent", a.ctx_set_current);
    find("cuDevicePrimaryCtxGetState", a.primary_ctx_get_state);
    return a;
  }();
  return api;
}

/// Makes `ordinal` the current device for its lifetime, then restores exactly the context that
/// was current before (a primary context, or one the program created itself). On a thread
/// that had none, it restores the device the runtime reports (device 0 by default) only if
/// that device's context already exists: cudaSetDevice would otherwise create a context on it
/// (hundreds of MB) in a program that never uses that GPU, so the shard's device stays current.
class device_guard {
 public:
  explicit device_guard(int ordinal) : ordinal_(ordinal) {
    save();
    SHARD_DETAIL_CUDA_THROW(cudaGetDevice(&previous_), -1, ordinal);
    SHARD_DETAIL_CUDA_THROW(cudaSetDevice(ordinal), -1, ordinal);
  }
  /// For destructors and other no-throw paths: failures are reported, not thrown.
  device_guard(int ordinal, std::nothrow_t) noexcept : ordinal_(ordinal) {
    save();
    SHARD_DETAIL_CUDA_REPORT(cudaGetDevice(&previous_));
    const cudaError_t set = cudaSetDevice(ordinal);
    ok_ = set == cudaSuccess;
    SHARD_DETAIL_CUDA_REPORT(set);
  }
  /// Whether the device was set (false only after a nothrow construction that failed).
  bool ok() const noexcept { return ok_; }
  ~device_guard() {
    const auto& api = driver();
    if (saved_known_ && saved_ != nullptr) {
      if (api.ctx_set_current(saved_) != CUDA_SUCCESS)
        std::fprintf(stderr, "shard: cuCtxSetCurrent failed while restoring the caller's context\n");
      return;
    }
    if (previous_ < 0 || previous_ == ordinal_) return;
    if (saved_known_ && !primary_context_exists(previous_)) return;
    SHARD_DETAIL_CUDA_REPORT(cudaSetDevice(previous_));
  }
  device_guard(const device_guard&) = delete;
  device_guard& operator=(const device_guard&) = delete;

 private:
  bool ok_ = true;
  void save() noexcept {
    const auto& api = driver();
    saved_known_ = api.ctx_get_current != nullptr && api.ctx_set_current != nullptr &&
                   api.ctx_get_current(&saved_) == CUDA_SUCCESS;
  }
  static bool primary_context_exists(int device) noexcept {
    const auto& api = driver();
    unsigned flags = 0;
    int active = 0;
    return api.primary_ctx_get_state != nullptr &&
           api.primary_ctx_get_state(static_cast<CUdevice>(device), &flags, &active) == CUDA_SUCCESS && active != 0;
  }

  int ordinal_;
  int previous_ = -1;
  CUcontext saved_ = nullptr;
  bool saved_known_ = false;
};

/// A memory pool on one GPU (cudaMemPoolCreate), kept by the context. Memory is not given
/// back to the driver between algorithms (release threshold = max), as CUB's caching
/// allocator and Thrust's pools do.
class memory_pool {
 public:
  explicit memory_pool(int ordinal) : ordinal_(ordinal) {
    device_guard g(ordinal_);
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = ordinal;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolCreate(&pool_, &props), -1, ordinal);
    std::uint64_t threshold = UINT64_MAX;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold), -1,
                            ordinal);
    // The shards on one GPU share the pool: an allocation on one shard's stream must never be
    // made to wait for another shard's stream to reuse its freed memory (that would serialise
    // the shards, and tie a healthy shard to an abandoned one). Reuse of frees that have
    // completed, and reuse ordered by events, stay on.
    int no = 0;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolSetAttribute(pool_, cudaMemPoolReuseAllowInternalDependencies, &no), -1,
                            ordinal);
  }
  ~memory_pool() {
    device_guard g(ordinal_, std::nothrow);
    SHARD_DETAIL_CUDA_REPORT(cudaMemPoolDestroy(pool_));
  }
  memory_pool(const memory_pool&) = delete;
  memory_pool& operator=(const memory_pool&) = delete;

  cudaMemPool_t get() const noexcept { return pool_; }
  int ordinal() const noexcept { return ordinal_; }
  /// Lets `peer` read and write this pool's memory (for kernels and copies from that GPU).
  void grant_access(int peer) {
    device_guard g(ordinal_);
    cudaMemAccessDesc desc{};
    desc.location.type = cudaMemLocationTypeDevice;
    desc.location.id = peer;
    desc.flags = cudaMemAccessFlagsProtReadWrite;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolSetAccess(pool_, &desc, 1), -1, ordinal_);
  }

 private:
  int ordinal_;
  cudaMemPool_t pool_ = nullptr;
};

class cuda_event final : public detail::event {
 public:
  cuda_event(cudaEvent_t e, int ordinal) : event_(e), ordinal_(ordinal) {}
  ~cuda_event() override {
    device_guard g(ordinal_, std::nothrow);
    SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(event_));
  }
  cudaEvent_t get() const noexcept { return event_; }
  bool reached() const override {
    const cudaError_t status = cudaEventQuery(event_);
    if (status != cudaSuccess && status != cudaErrorNotReady) (void)cudaGetLastError();
    // A failure ends the wait too: the stream's synchronize reports it.
    return status != cudaErrorNotReady;
  }

 private:
  cudaEvent_t event_;
  int ordinal_;
};

/// One shard on a GPU.
class device final : public detail::device {
 public:
  /// `pool`: shard's memory pool on the GPU (null when `memory`, the application's allocator,
  /// is set). `stream`: the application's stream for this shard (shard neither creates nor
  /// destroys it), or null for a stream of shard's own.
  device(int shard, int ordinal, std::shared_ptr<memory_pool> pool, cudaStream_t stream = nullptr,
         shard::allocator memory = {})
      : shard_(shard), ordinal_(ordinal), pool_(std::move(pool)), memory_(std::move(memory)), stream_(stream),
        owns_stream_(stream == nullptr) {
    if (!owns_stream_) return;
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), shard_, ordinal_);
  }
  ~device() override {
    release_activity_events();
    if (!owns_stream_) return;  // the application's stream stays the application's
    device_guard g(ordinal_, std::nothrow);
    // Never waits: the context has already waited for the stream (with its deadline) or
    // abandoned it. cudaStreamDestroy returns at once; a stream still busy (a hung kernel) is
    // released by the driver when its work ends, and its stream-ordered frees with it.
    SHARD_DETAIL_CUDA_REPORT(cudaStreamDestroy(stream_));
  }
  device(const device&) = delete;
  device& operator=(const device&) = delete;

  backend kind() const noexcept override { return backend::cuda; }
  int shard() const noexcept override { return shard_; }
  int ordinal() const noexcept override { return ordinal_; }
  cudaStream_t stream() const noexcept { return stream_; }

  device_properties properties() const override {
    cudaDeviceProp prop{};
    SHARD_DETAIL_CUDA_THROW(cudaGetDeviceProperties(&prop, ordinal_), shard_, ordinal_);
    device_properties p;
    p.ordinal = ordinal_;
    p.name = prop.name;
    p.memory_bytes = prop.totalGlobalMem;
    p.multiprocessors = prop.multiProcessorCount;
    p.compute_major = prop.major;
    p.compute_minor = prop.minor;
    char bus[32] = {};
    SHARD_DETAIL_CUDA_THROW(cudaDeviceGetPCIBusId(bus, sizeof bus, ordinal_), shard_, ordinal_);
    p.bus_id = bus;
    return p;
  }

  void* allocate_host(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    // Pinned memory belongs to the current device's context: make it this shard's GPU, not
    // whatever (or nothing, then GPU 0) the calling thread has current.
    device_guard g(ordinal_);
    void* p = nullptr;
    // Portable: usable at full speed by the copies of every GPU, not only this one.
    const cudaError_t status = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
    if (status != cudaSuccess) throw_cuda_error(status, "cudaHostAlloc (pinned host memory)", shard_, ordinal_, bytes);
    return p;
  }
  void deallocate_host(void* p, std::size_t) noexcept override {
    if (p == nullptr) return;
    device_guard g(ordinal_, std::nothrow);
    SHARD_DETAIL_CUDA_REPORT(cudaFreeHost(p));
  }

  /// The GPU's free memory (cudaMemGetInfo) plus what shard's pool holds unused (reserved,
  /// not in use: memory the pool hands out again without asking the driver). With the
  /// application's allocator unknown_memory: its pool may hold memory the runtime counts as used.
  std::uint64_t free_memory() const override {
    if (memory_) return unknown_memory;
    device_guard g(ordinal_);
    std::size_t free_bytes = 0, total = 0;
    SHARD_DETAIL_CUDA_THROW(cudaMemGetInfo(&free_bytes, &total), shard_, ordinal_);
    cuuint64_t reserved = 0, used = 0;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolGetAttribute(pool_->get(), cudaMemPoolAttrReservedMemCurrent, &reserved), shard_,
                            ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolGetAttribute(pool_->get(), cudaMemPoolAttrUsedMemCurrent, &used), shard_,
                            ordinal_);
    return static_cast<std::uint64_t>(free_bytes) + (reserved > used ? reserved - used : 0);
  }

  void* allocate(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    device_guard g(ordinal_);
    if (memory_) return detail::allocate_from(memory_, bytes, place());
    void* p = nullptr;
    const cudaError_t status = cudaMallocFromPoolAsync(&p, bytes, pool_->get(), stream_);
    if (status != cudaSuccess) throw_cuda_error(status, "cudaMallocFromPoolAsync", shard_, ordinal_, bytes);
    return p;
  }
  void deallocate(void* p, std::size_t bytes) noexcept override {
    if (p == nullptr) return;
    device_guard g(ordinal_, std::nothrow);
    if (memory_) return memory_.deallocate(p, bytes, place());
    SHARD_DETAIL_CUDA_REPORT(cudaFreeAsync(p, stream_));
  }
  /// Where this shard allocates, for the application's allocator.
  allocation_place place() const noexcept {
    return allocation_place{static_cast<std::size_t>(shard_), ordinal_, static_cast<void*>(stream_)};
  }

  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    const timed_copy span(*this);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), shard_, ordinal_);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    const timed_copy span(*this);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), shard_, ordinal_);
  }
  bool host_copies_need_pinned_memory() const noexcept override { return true; }
  bool is_pinned(const void* p) const override {
    device_guard g(ordinal_);
    cudaPointerAttributes attributes{};
    const cudaError_t status = cudaPointerGetAttributes(&attributes, p);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();  // an unknown pointer: pageable
      return false;
    }
    return attributes.type == cudaMemoryTypeHost;
  }
  std::string foreign_memory(const void* p) const override {
    device_guard g(ordinal_);
    cudaPointerAttributes attributes{};
    const cudaError_t status = cudaPointerGetAttributes(&attributes, p);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      return "a pointer the CUDA runtime does not know";
    }
    if (attributes.type == cudaMemoryTypeManaged) return {};  // migrates to whichever GPU uses it
    if (attributes.type != cudaMemoryTypeDevice) return "host memory";
    if (attributes.device != ordinal_) return "memory of GPU " + std::to_string(attributes.device);
    return {};
  }
  void copy_local(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    const timed_copy span(*this);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), shard_, ordinal_);
  }
  void copy_from_peer(void* dst, const detail::device& source, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    if (source.ordinal() == ordinal_) return copy_local(dst, src, bytes);
    device_guard g(ordinal_);
    const timed_copy span(*this);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyPeerAsync(dst, ordinal_, src, source.ordinal(), bytes, stream_), shard_,
                            ordinal_);
  }
  void copy_to_peer(const detail::device& destination, void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    if (destination.ordinal() == ordinal_) return copy_local(dst, src, bytes);
    device_guard g(ordinal_);
    const timed_copy span(*this);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyPeerAsync(dst, destination.ordinal(), src, ordinal_, bytes, stream_), shard_,
                            ordinal_);
  }

  // --- activity: timed events around each primitive and copy (stats' busy time, traces) ---
  void activity_begin() override {
    device_guard g(ordinal_);
    if (open_ != nullptr) give_back(std::exchange(open_, nullptr));  // a launch that never ended its span
    ensure_reference();
    open_ = record_activity_event();
  }
  void activity_end(const char* name) override {
    const cudaEvent_t begin = std::exchange(open_, nullptr);
    if (begin == nullptr) return;
    cudaEvent_t end = nullptr;
    try {
      device_guard g(ordinal_);
      end = record_activity_event();
    } catch (...) {
      give_back(begin);  // never part of a span: reusable
      throw;
    }
    std::lock_guard<std::mutex> lock(activity_mutex_);
    pending_.push_back(pending_span{name, false, begin, end});
  }
  /// The spans recorded since the last call, on the host's clock: each span's length from its
  /// own two events, its place from its begin event's time after the reference event (recorded
  /// before any span, and seen reached by the host at a known moment; renewed after a minute,
  /// once the spans before it are placed, so that cudaEventElapsedTime's float milliseconds
  /// keep microseconds). The queues are idle.
  void take_activity(std::vector<detail::activity>& spans) override {
    if (device* side = copy_queue_if_made()) side->take_activity(spans);
    std::lock_guard<std::mutex> lock(activity_mutex_);
    if (pending_.empty() || reference_ == nullptr) return;
    device_guard g(ordinal_);
    for (const auto& p : pending_) {
      float from = 0, length = 0;
      if (cudaEventElapsedTime(&from, reference_, p.begin) != cudaSuccess ||
          cudaEventElapsedTime(&length, p.begin, p.end) != cudaSuccess) {
        (void)cudaGetLastError();  // a failed stream: its spans are not known
        continue;
      }
      const auto begin = reference_host_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                               std::chrono::duration<double, std::milli>(from));
      const auto end = begin + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double, std::milli>(length));
      spans.push_back(detail::activity{p.name, p.copy, begin, end});
    }
    for (const auto& p : pending_) free_events_.push_back(p.begin), free_events_.push_back(p.end);
    pending_.clear();
    if (std::chrono::steady_clock::now() - reference_host_ > std::chrono::seconds(60)) {
      try {
        renew_reference();
      } catch (...) {  // the spans' places drift a little further; their lengths stay exact
      }
    }
  }

  std::shared_ptr<detail::event> record() override { return record_with(cudaEventDisableTiming); }
  std::shared_ptr<detail::event> record_timed() override { return record_with(cudaEventDefault); }
  double elapsed_ms(const detail::event& start, const detail::event& stop) const override {
    float ms = 0;
    SHARD_DETAIL_CUDA_THROW(cudaEventElapsedTime(&ms, static_cast<const cuda_event&>(start).get(),
                                                 static_cast<const cuda_event&>(stop).get()),
                            shard_, ordinal_);
    return ms;
  }
  void wait(std::shared_ptr<detail::event> e) override {
    device_guard g(ordinal_);
    // Destroying the event right after is fine: CUDA releases it once the wait completes.
    SHARD_DETAIL_CUDA_THROW(cudaStreamWaitEvent(stream_, static_cast<const cuda_event&>(*e).get(), 0), shard_,
                            ordinal_);
  }

  /// A second stream of shard's own on this GPU (detail::device::copy_queue), non-blocking like
  /// the shard's: the copies queued there run beside the kernels of the shard's stream, which
  /// may be the application's (cuda_options::streams). Ordered against it by events only.
  detail::device& copy_queue() override {
    std::lock_guard<std::mutex> lock(side_mutex_);
    if (!side_) side_ = std::make_unique<device>(shard_, ordinal_, pool_, nullptr, memory_);
    return *side_;
  }

  void synchronize() override {
    device_guard g(ordinal_);
    // The copy stream first (its failure is reported once the shard's stream is also idle).
    cudaError_t side = cudaSuccess;
    if (device* s = copy_queue_if_made()) side = cudaStreamSynchronize(s->stream());
    SHARD_DETAIL_CUDA_THROW(cudaStreamSynchronize(stream_), shard_, ordinal_);
    if (side != cudaSuccess) throw_cuda_error(side, "cudaStreamSynchronize (the shard's copy stream)", shard_, ordinal_);
  }

  bool idle() override {
    if (device* s = copy_queue_if_made(); s != nullptr && !s->idle()) return false;
    device_guard g(ordinal_, std::nothrow);
    const cudaError_t status = cudaStreamQuery(stream_);
    if (status != cudaSuccess && status != cudaErrorNotReady) (void)cudaGetLastError();
    // Any status but "not ready" ends the wait; synchronize() then reports a failure.
    return status != cudaErrorNotReady;
  }

  /// Nothing to do: the destructor never waits on the stream anyway.
  void abandon() noexcept override {}

  /// A sticky error of the GPU's context (what every call on it returns after a fault), as the
  /// shard's stream reports it.
  bool faulted() noexcept override {
    device_guard g(ordinal_, std::nothrow);
    const cudaError_t status = cudaStreamQuery(stream_);
    if (status == cudaSuccess || status == cudaErrorNotReady) return false;
    const bool sticky = is_sticky(status);
    (void)cudaGetLastError();  // clears a non-sticky error; a sticky one stays, as it must
    return sticky;
  }

 private:
  std::shared_ptr<detail::event> record_with(unsigned flags) {
    device_guard g(ordinal_);
    cudaEvent_t e = nullptr;
    SHARD_DETAIL_CUDA_THROW(cudaEventCreateWithFlags(&e, flags), shard_, ordinal_);
    auto owned = std::make_shared<cuda_event>(e, ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaEventRecord(e, stream_), shard_, ordinal_);
    return owned;
  }

  device* copy_queue_if_made() const noexcept {
    std::lock_guard<std::mutex> lock(side_mutex_);
    return side_.get();
  }

  /// A timed event of the pool, recorded on the stream now. The caller has the GPU current.
  cudaEvent_t record_activity_event() {
    cudaEvent_t e = nullptr;
    std::unique_lock<std::mutex> lock(activity_mutex_);
    if (!free_events_.empty()) {
      e = free_events_.back();
      free_events_.pop_back();
      lock.unlock();
    } else {
      lock.unlock();
      SHARD_DETAIL_CUDA_THROW(cudaEventCreateWithFlags(&e, cudaEventDefault), shard_, ordinal_);
    }
    const cudaError_t status = cudaEventRecord(e, stream_);
    if (status != cudaSuccess) {
      give_back(e);
      throw_cuda_error(status, "cudaEventRecord (activity)", shard_, ordinal_);
    }
    return e;
  }
  /// An activity event that was not (or no longer) part of a span, back to the pool.
  void give_back(cudaEvent_t e) noexcept {
    std::lock_guard<std::mutex> lock(activity_mutex_);
    try {
      free_events_.push_back(e);
    } catch (...) {
      SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(e));
    }
  }
  /// A copy's span: events before and after the copy queued in its scope.
  class timed_copy {
   public:
    explicit timed_copy(device& d) : d_(d), begin_((d.ensure_reference(), d.record_activity_event())) {}
    ~timed_copy() {
      cudaEvent_t end = nullptr;
      try {
        end = d_.record_activity_event();
        std::lock_guard<std::mutex> lock(d_.activity_mutex_);
        d_.pending_.push_back(pending_span{"copy", true, begin_, end});
      } catch (...) {  // the span is not known; the copy itself reported its own failure
        d_.give_back(begin_);
        if (end != nullptr) d_.give_back(end);
      }
    }
    timed_copy(const timed_copy&) = delete;
    timed_copy& operator=(const timed_copy&) = delete;

   private:
    device& d_;
    cudaEvent_t begin_;
  };
  /// The reference event, before the first span: recorded and waited for once (the host
  /// then knows when it was reached). The caller has the GPU current.
  void ensure_reference() {
    std::lock_guard<std::mutex> lock(activity_mutex_);
    if (reference_ == nullptr) renew_reference();
  }
  /// Records the reference event on the stream and waits for it: its host time is now.
  void renew_reference() {
    if (reference_ == nullptr) SHARD_DETAIL_CUDA_THROW(cudaEventCreateWithFlags(&reference_, cudaEventDefault), shard_, ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaEventRecord(reference_, stream_), shard_, ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaEventSynchronize(reference_), shard_, ordinal_);
    reference_host_ = std::chrono::steady_clock::now();
  }
  void release_activity_events() noexcept {
    device_guard g(ordinal_, std::nothrow);
    std::lock_guard<std::mutex> lock(activity_mutex_);
    for (const auto& p : pending_) {
      SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(p.begin));
      SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(p.end));
    }
    if (open_ != nullptr) SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(open_));
    if (reference_ != nullptr) SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(reference_));
    for (cudaEvent_t e : free_events_) SHARD_DETAIL_CUDA_REPORT(cudaEventDestroy(e));
    free_events_.clear();
    pending_.clear();
  }
  struct pending_span {
    const char* name;
    bool copy;
    cudaEvent_t begin, end;
  };

  int shard_;
  int ordinal_;
  std::shared_ptr<memory_pool> pool_;
  shard::allocator memory_;  // the application's, or empty (pool_)
  cudaStream_t stream_ = nullptr;
  bool owns_stream_ = true;
  mutable std::mutex side_mutex_;
  std::unique_ptr<device> side_;  // the copy stream's, made on first use
  // Activity spans: the events of the spans queued and not yet taken, and a pool of events.
  std::mutex activity_mutex_;
  std::vector<pending_span> pending_;
  std::vector<cudaEvent_t> free_events_;
  cudaEvent_t open_ = nullptr;       // activity_begin's event
  cudaEvent_t reference_ = nullptr;  // reached at reference_host_
  std::chrono::steady_clock::time_point reference_host_{};
};

}  // namespace cuda_backend
SHARD_NAMESPACE_END
