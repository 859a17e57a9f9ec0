#pragma once
/// @file core/segmented_buffer.hpp
/// Owning memory with one segment per shard (the storage of shard::vector and of the
/// skeletons' scratch buffers), and the per-shard pointer lists the transport and the
/// skeletons take.
#include <shard/config.hpp>
#include <shard/core/buffer.hpp>
#include <shard/core/context_impl.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

template <class T>
class segmented_buffer {
 public:
  segmented_buffer() = default;
  /// sizes[s] uninitialised elements on every shard s. If a shard runs out of memory, the
  /// segments already allocated are released as the exception leaves: nothing leaks. In an
  /// SPMD context each rank allocates its own shards' segments, and the ranks agree on the
  /// outcome (and on the sizes: ranks that allocate differently throw invalid_argument), so
  /// that a rank out of memory makes every rank throw.
  segmented_buffer(context_impl& ctx, std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
    try {
      segments_.reserve(sizes_.size());
      for (std::size_t s = 0; s < sizes_.size(); ++s) segments_.emplace_back(ctx, s, sizes_[s]);
    } catch (...) {
      segments_.clear();
      ctx.agree_on_failure(std::current_exception(), ctx.step_shape(shape()));
    }
    if (ctx.spmd()) ctx.agree(nullptr, ctx.step_shape(shape()));
  }

  /// The application's memory: `data[s]` holds sizes[s] elements of shard s (null for the
  /// shards of other ranks and for empty segments). Never freed here.
  struct borrowed_t {};
  segmented_buffer(borrowed_t, std::vector<std::size_t> sizes, const std::vector<T*>& data)
      : sizes_(std::move(sizes)), borrowed_(true) {
    segments_.reserve(sizes_.size());
    for (std::size_t s = 0; s < sizes_.size(); ++s)
      segments_.emplace_back(typename device_buffer<T>::borrowed_t{}, s, data[s], sizes_[s]);
  }

  /// Whether the memory is the application's (borrowed): it cannot be reallocated.
  bool borrowed() const noexcept { return borrowed_; }
  std::size_t num_segments() const noexcept { return sizes_.size(); }
  const std::vector<std::size_t>& sizes() const noexcept { return sizes_; }
  T* data(std::size_t shard) const noexcept { return segments_.empty() ? nullptr : segments_[shard].data(); }

  /// Exchanges segment `shard` with `other`'s (both shard's own memory, of equal sizes there):
  /// how an algorithm that computed a result in buffers of its own commits it.
  void swap_segment(std::size_t shard, segmented_buffer& other) noexcept { segments_[shard].swap(other.segments_[shard]); }

  /// Segment pointers in shard order (nullptr for an empty segment).
  std::vector<T*> pointers() const {
    std::vector<T*> out(sizes_.size(), nullptr);
    for (std::size_t s = 0; s < segments_.size(); ++s) out[s] = segments_[s].data();
    return out;
  }

 private:
  std::string shape() const {
    std::size_t n = 0;
    for (auto k : sizes_) n += k;
    return "an allocation of " + std::to_string(n) + " elements of " + std::to_string(sizeof(T)) + " bytes";
  }
  std::vector<std::size_t> sizes_;
  std::vector<device_buffer<T>> segments_;
  bool borrowed_ = false;
};

}  // namespace detail
SHARD_NAMESPACE_END
