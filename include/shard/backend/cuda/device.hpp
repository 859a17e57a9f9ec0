#pragma once
/// @file backend/cuda/device.hpp
/// One shard on a GPU: its own stream, memory from the GPU's stream-ordered pool (owned by
/// the context, shared by the shards on that GPU), events for cross-shard ordering.
#include <shard/config.hpp>
#include <shard/backend/cuda/error.hpp>
#include <shard/detail/device.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

SHARD_NAMESPACE_BEGIN
namespace cuda_backend {

/// Makes `ordinal` the current device for its lifetime and restores the previous one.
class device_guard {
 public:
  explicit device_guard(int ordinal) {
    SHARD_DETAIL_CUDA_THROW(cudaGetDevice(&previous_), -1, ordinal);
    if (previous_ != ordinal) SHARD_DETAIL_CUDA_THROW(cudaSetDevice(ordinal), -1, ordinal);
  }
  ~device_guard() { SHARD_DETAIL_CUDA_ASSERT(cudaSetDevice(previous_)); }
  device_guard(const device_guard&) = delete;
  device_guard& operator=(const device_guard&) = delete;

 private:
  int previous_ = 0;
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
    if (cudaSetDevice(ordinal_) != cudaSuccess) (void)cudaGetLastError();
    SHARD_DETAIL_CUDA_ASSERT(cudaStreamSynchronize(stream_));
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
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      throw out_of_memory(shard_, ordinal_, bytes, 0, "cudaHostAlloc (pinned staging memory)");
    }
    SHARD_DETAIL_CUDA_THROW(status, shard_, ordinal_);
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
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_bytes = 0, total = 0;
      if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) (void)cudaGetLastError();
      throw out_of_memory(shard_, ordinal_, bytes, free_bytes, "cudaMallocFromPoolAsync");
    }
    SHARD_DETAIL_CUDA_THROW(status, shard_, ordinal_);
    return p;
  }
  void deallocate(void* p, std::size_t) noexcept override {
    if (p == nullptr) return;
    int previous = 0;
    if (cudaGetDevice(&previous) != cudaSuccess) (void)cudaGetLastError();
    if (cudaSetDevice(ordinal_) != cudaSuccess) (void)cudaGetLastError();
    SHARD_DETAIL_CUDA_ASSERT(cudaFreeAsync(p, stream_));
    if (cudaSetDevice(previous) != cudaSuccess) (void)cudaGetLastError();
  }

  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    copy(dst, src, bytes, cudaMemcpyHostToDevice, "cudaMemcpyAsync(host to device)");
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    copy(dst, src, bytes, cudaMemcpyDeviceToHost, "cudaMemcpyAsync(device to host)");
  }
  void copy_local(void* dst, const void* src, std::size_t bytes) override {
    copy(dst, src, bytes, cudaMemcpyDeviceToDevice, "cudaMemcpyAsync(device to device)");
  }
  void copy_from_peer(void* dst, const detail::device& source, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    if (source.ordinal() == ordinal_) return copy_local(dst, src, bytes);
    device_guard g(ordinal_);
    check(cudaMemcpyPeerAsync(dst, ordinal_, src, source.ordinal(), bytes, stream_), "cudaMemcpyPeerAsync");
  }

  std::shared_ptr<detail::event> record() override { return record_with(cudaEventDisableTiming); }
  std::shared_ptr<detail::event> record_timed() override { return record_with(cudaEventDefault); }
  double elapsed_ms(const detail::event& start, const detail::event& stop) const override {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, static_cast<const cuda_event&>(start).get(),
                               static_cast<const cuda_event&>(stop).get()),
          "cudaEventElapsedTime");
    return ms;
  }
  void wait(std::shared_ptr<detail::event> e) override {
    device_guard g(ordinal_);
    // Destroying the event right after is fine: CUDA releases it once the wait completes.
    check(cudaStreamWaitEvent(stream_, static_cast<const cuda_event&>(*e).get(), 0), "cudaStreamWaitEvent");
  }

  void synchronize() override {
    device_guard g(ordinal_);
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

  bool idle() override {
    int previous = 0;
    if (cudaGetDevice(&previous) != cudaSuccess) (void)cudaGetLastError();
    if (cudaSetDevice(ordinal_) != cudaSuccess) (void)cudaGetLastError();
    const cudaError_t status = cudaStreamQuery(stream_);
    if (cudaSetDevice(previous) != cudaSuccess) (void)cudaGetLastError();
    // Any status but "not ready" ends the wait; synchronize() then reports a failure.
    return status != cudaErrorNotReady;
  }

  /// Throws shard::error naming this shard for a failed call.
  void check(cudaError_t status, const char* call) const {
    if (status != cudaSuccess) throw_cuda_error(status, call, shard_, ordinal_);
  }

 private:
  std::shared_ptr<detail::event> record_with(unsigned flags) {
    device_guard g(ordinal_);
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, flags), "cudaEventCreateWithFlags");
    auto owned = std::make_shared<cuda_event>(e);
    check(cudaEventRecord(e, stream_), "cudaEventRecord");
    return owned;
  }

  void copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, const char* call) {
    if (bytes == 0) return;
    device_guard g(ordinal_);
    check(cudaMemcpyAsync(dst, src, bytes, kind, stream_), call);
  }

  int shard_;
  int ordinal_;
  std::shared_ptr<memory_pool> pool_;
  cudaStream_t stream_ = nullptr;
};

}  // namespace cuda_backend
SHARD_NAMESPACE_END
