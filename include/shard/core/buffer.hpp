#pragma once
/// @file core/buffer.hpp
/// Owning, move-only memory of one shard, counted in the context's peak-bytes figure (or
/// borrowed: the application's memory, neither freed nor counted).
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>

#include <cstddef>
#include <utility>

SHARD_NAMESPACE_BEGIN
namespace detail {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  /// `count` elements of T on `shard` (uninitialised). Throws out_of_memory, or shard::error
  /// when the context is unusable. In an SPMD context a shard of another rank gets no memory
  /// here (data() is null): its rank allocates it.
  device_buffer(context_impl& ctx, std::size_t shard, std::size_t count)
      : ctx_(&ctx), shard_(shard), count_(count) {
    ctx.require_usable();
    if (!ctx.local(shard)) {
      ctx_ = nullptr;
      return;
    }
    data_ = static_cast<T*>(ctx.dev(shard).allocate(count * sizeof(T)));
    ctx.count_allocation(shard, count * sizeof(T));
  }
  /// `count` elements at `data`, memory of `shard` that the application owns: never freed
  /// here, and not counted in the context's bytes (shard did not allocate it).
  struct borrowed_t {};
  device_buffer(borrowed_t, std::size_t shard, T* data, std::size_t count) noexcept
      : shard_(shard), data_(data), count_(count) {}
  ~device_buffer() { release(); }
  device_buffer(device_buffer&& other) noexcept { swap(other); }
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  std::size_t shard() const noexcept { return shard_; }

  void swap(device_buffer& other) noexcept {
    std::swap(ctx_, other.ctx_);
    std::swap(shard_, other.shard_);
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
  }

 private:
  void release() noexcept {
    if (ctx_ == nullptr) {  // nothing of shard's (empty, another rank's, or borrowed)
      data_ = nullptr;
      count_ = 0;
      return;
    }
    ctx_->dev(shard_).deallocate(data_, count_ * sizeof(T));
    ctx_->count_deallocation(shard_, count_ * sizeof(T));
    ctx_ = nullptr;
    data_ = nullptr;
    count_ = 0;
  }
  context_impl* ctx_ = nullptr;
  std::size_t shard_ = 0;
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace detail
SHARD_NAMESPACE_END
