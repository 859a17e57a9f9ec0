#pragma once
/// @file backend/cuda/device.hpp
/// One shard on a GPU: its own stream, memory from the GPU's stream-ordered pool (owned by
/// the context, shared by the shards on that GPU), events for cross-shard ordering.
#include <shard/config.hpp>
#include <shard/backend/cuda/error.hpp>
#include <shard/detail/device.hpp>

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <new>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

/// Whether this host thread has a current CUDA context (the program, or an earlier call, made
/// a device current). Read from the driver (cuCtxGetCurrent) through the runtime's entry-point
/// query, so that shard needs no link to libcuda. true when the driver cannot tell.
inline bool thread_has_current_context() noexcept {
  using get_current_fn = CUresult (*)(CUcontext*);
  static const get_current_fn get_current = []() -> get_current_fn {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    return reinterpret_cast<get_current_fn>(fn);
  }();
  if (get_current == nullptr) return true;
  CUcontext current = nullptr;
  return get_current(&current) == CUDA_SUCCESS && current != nullptr;
}

/// Makes `ordinal` the current device for its lifetime, and then restores the device that was
/// current before, if one really was. A thread with no current context gets none back:
/// cudaGetDevice reports device 0 there, and restoring it would create a context on GPU 0
/// (hundreds of MB) in a program that never used that GPU.
class device_guard {
 public:
  explicit device_guard(int ordinal) {
    if (thread_has_current_context()) {
      SHARD_DETAIL_CUDA_THROW(cudaGetDevice(&previous_), -1, ordinal);
      if (previous_ == ordinal) return;
      restore_ = true;
    }
    SHARD_DETAIL_CUDA_THROW(cudaSetDevice(ordinal), -1, ordinal);
  }
  /// For destructors: failures are reported, not thrown.
  device_guard(int ordinal, std::nothrow_t) noexcept {
    if (thread_has_current_context()) {
      SHARD_DETAIL_CUDA_ASSERT(cudaGetDevice(&previous_));
      if (previous_ == ordinal) return;
      restore_ = previous_ >= 0;
    }
    SHARD_DETAIL_CUDA_ASSERT(cudaSetDevice(ordinal));
  }
  ~device_guard() {
    if (restore_) SHARD_DETAIL_CUDA_ASSERT(cudaSetDevice(previous_));
  }
  device_guard(const device_guard&) = delete;
  device_guard& operator=(const device_guard&) = delete;

 private:
  int previous_ = -1;
  bool restore_ = false;
};

/// A memory pool on one GPU (cudaMemPoolCreate), kept by the context. Memory is not given
/// back to the driver between algorithms (release threshold = max), as CUB's caching
/// allocator and Thrust's pools do.
class memory_pool {
 public:
  explicit memory_pool(int ordinal) : ordinal_(ordinal) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = ordinal;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolCreate(&pool_, &props), -1, ordinal);
    std::uint64_t threshold = UINT64_MAX;
    SHARD_DETAIL_CUDA_THROW(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold), -1,
                            ordinal);
  }
  ~memory_pool() { SHARD_DETAIL_CUDA_ASSERT(cudaMemPoolDestroy(pool_)); }
  memory_pool(const memory_pool&) = delete;
  memory_pool& operator=(const memory_pool&) = delete;

  cudaMemPool_t get() const noexcept { return pool_; }
  int ordinal() const noexcept { return ordinal_; }
  /// Lets `peer` read and write this pool's memory (for kernels and copies from that GPU).
  void grant_access(int peer) {
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
  explicit cuda_event(cudaEvent_t e) : event_(e) {}
  ~cuda_event() override { SHARD_DETAIL_CUDA_ASSERT(cudaEventDestroy(event_)); }
  cudaEvent_t get() const noexcept { return event_; }
  bool reached() const override {
    const cudaError_t status = cudaEventQuery(event_);
    if (status != cudaSuccess && status != cudaErrorNotReady) (void)cudaGetLastError();
    // A failure ends the wait too: the stream's synchronize reports it.
    return status != cudaErrorNotReady;
  }

 private:
  cudaEvent_t event_;
};

/// One shard on a GPU.
class device final : public detail::device {
 public:
  device(int shard, int ordinal, std::shared_ptr<memory_pool> pool)
      : shard_(shard), ordinal_(ordinal), pool_(std::move(pool)) {
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), shard_, ordinal_);
  }
  ~device() override {
    device_guard g(ordinal_, std::nothrow);
    // An abandoned stream may never finish (a hung kernel): destroying it returns at once and
    // the driver releases it when its work ends.
    if (!abandoned_) SHARD_DETAIL_CUDA_ASSERT(cudaStreamSynchronize(stream_));
    SHARD_DETAIL_CUDA_ASSERT(cudaStreamDestroy(stream_));
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
    void* p = nullptr;
    // Portable: usable at full speed by the copies of every GPU, not only this one.
    const cudaError_t status = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
    if (status != cudaSuccess) throw_cuda_error(status, "cudaHostAlloc (pinned host memory)", shard_, ordinal_, bytes);
    return p;
  }
  void deallocate_host(void* p, std::size_t) noexcept override {
    if (p != nullptr) SHARD_DETAIL_CUDA_ASSERT(cudaFreeHost(p));
  }

  void* allocate(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    device_guard g(ordinal_);
    void* p = nullptr;
    const cudaError_t status = cudaMallocFromPoolAsync(&p, bytes, pool_->get(), stream_);
    if (status != cudaSuccess) throw_cuda_error(status, "cudaMallocFromPoolAsync", shard_, ordinal_, bytes);
    return p;
  }
  void deallocate(void* p, std::size_t) noexcept override {
    if (p == nullptr) return;
    device_guard g(ordinal_, std::nothrow);
    SHARD_DETAIL_CUDA_ASSERT(cudaFreeAsync(p, stream_));
  }

  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), shard_, ordinal_);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), shard_, ordinal_);
  }
  bool host_copies_need_pinned_memory() const noexcept override { return true; }
  bool is_pinned(const void* p) const override {
    cudaPointerAttributes attributes{};
    const cudaError_t status = cudaPointerGetAttributes(&attributes, p);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();  // an unknown pointer: pageable
      return false;
    }
    return attributes.type == cudaMemoryTypeHost;
  }
  void copy_local(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), shard_, ordinal_);
  }
  void copy_from_peer(void* dst, const detail::device& source, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    if (source.ordinal() == ordinal_) return copy_local(dst, src, bytes);
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaMemcpyPeerAsync(dst, ordinal_, src, source.ordinal(), bytes, stream_), shard_,
                            ordinal_);
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

  void synchronize() override {
    device_guard g(ordinal_);
    SHARD_DETAIL_CUDA_THROW(cudaStreamSynchronize(stream_), shard_, ordinal_);
  }

  bool idle() override {
    device_guard g(ordinal_, std::nothrow);
    const cudaError_t status = cudaStreamQuery(stream_);
    if (status != cudaSuccess && status != cudaErrorNotReady) (void)cudaGetLastError();
    // Any status but "not ready" ends the wait; synchronize() then reports a failure.
    return status != cudaErrorNotReady;
  }

  void abandon() noexcept override { abandoned_ = true; }

 private:
  std::shared_ptr<detail::event> record_with(unsigned flags) {
    device_guard g(ordinal_);
    cudaEvent_t e = nullptr;
    SHARD_DETAIL_CUDA_THROW(cudaEventCreateWithFlags(&e, flags), shard_, ordinal_);
    auto owned = std::make_shared<cuda_event>(e);
    SHARD_DETAIL_CUDA_THROW(cudaEventRecord(e, stream_), shard_, ordinal_);
    return owned;
  }

  int shard_;
  int ordinal_;
  std::shared_ptr<memory_pool> pool_;
  cudaStream_t stream_ = nullptr;
  bool abandoned_ = false;
};

}  // namespace cuda_backend
SHARD_NAMESPACE_END
