#pragma once
// Definitions of shard::vector<T> (declared in <shard/vector.hpp>).
#include <shard/detail/functors.hpp>
#include <shard/detail/primitives.hpp>
#include <shard/detail/skeleton/plan.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/transport/copy.hpp>

#include <algorithm>
#include <string>
#include <utility>

SHARD_NAMESPACE_BEGIN

namespace detail {
/// Queues a fill of [first, first + n) of every segment `buffers[s]` (`ranges[s]`).
template <class T>
void enqueue_fill(context_impl& ctx, const std::vector<device_buffer<T>>& buffers,
                  const std::vector<std::pair<std::size_t, std::size_t>>& ranges, const T& value) {
  for (std::size_t s = 0; s < ctx.size(); ++s) {
    const auto [first, n] = ranges[s];
    if (n == 0) continue;
    launch(ctx, s, [&](auto& dev) { primitive::for_each_index(dev, n, fill_fn<T>{buffers[s].data() + first, value}); });
  }
}
template <class T>
std::vector<const T*> data_of(const std::vector<device_buffer<T>>& buffers) {
  std::vector<const T*> out;
  for (const auto& b : buffers) out.push_back(b.data());
  return out;
}
template <class T>
std::vector<T*> mutable_data_of(const std::vector<device_buffer<T>>& buffers) {
  std::vector<T*> out;
  for (const auto& b : buffers) out.push_back(b.data());
  return out;
}
}  // namespace detail

template <class T>
std::vector<detail::device_buffer<T>> vector<T>::allocate(const context& ctx, const std::vector<std::size_t>& sizes) {
  // If shard k runs out of memory, the buffers of shards < k are released by their
  // destructors as the exception leaves: nothing leaks.
  std::vector<detail::device_buffer<T>> buffers;
  buffers.reserve(sizes.size());
  for (std::size_t s = 0; s < sizes.size(); ++s) buffers.emplace_back(ctx.impl(), s, sizes[s]);
  return buffers;
}

template <class T>
void vector<T>::adopt(std::vector<std::size_t> sizes, std::vector<detail::device_buffer<T>> buffers) {
  size_ = 0;
  for (auto n : sizes) size_ += n;
  offsets_ = detail::offsets_of(sizes);
  sizes_ = std::move(sizes);
  buffers_ = std::move(buffers);
}

template <class T>
vector<T>::vector(uninitialized_tag, const context& ctx, std::vector<std::size_t> sizes, shard::distribution policy)
    : ctx_(ctx), policy_(std::move(policy)) {
  auto buffers = allocate(ctx_, sizes);
  adopt(std::move(sizes), std::move(buffers));
}

template <class T>
vector<T>::vector(const context& ctx, std::size_t n, shard::distribution d) : vector(ctx, n, T{}, std::move(d)) {}

template <class T>
vector<T>::vector(const context& ctx, std::size_t n, const T& value, shard::distribution d)
    : vector(uninitialized_tag{}, ctx, d.sizes(n, ctx.size()), d) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (auto sz : sizes_) ranges.emplace_back(0, sz);
  detail::run_and_wait(ctx_.impl(), [&] { detail::enqueue_fill(ctx_.impl(), buffers_, ranges, value); });
}

template <class T>
vector<T>::vector(const context& ctx, std::span<const T> host, shard::distribution d)
    : vector(uninitialized_tag{}, ctx, d.sizes(host.size(), ctx.size()), d) {
  auto& impl = ctx_.impl();
  detail::on_all_shards(impl, [&](std::size_t s) {
    transport::from_host(impl, s, buffers_[s].data(), host.data() + offsets_[s], sizes_[s] * sizeof(T));
  });
}

template <class T>
vector<T>::vector(const vector& other) : vector(uninitialized_tag{}, other.ctx_, other.sizes_, other.policy_) {
  auto& impl = ctx_.impl();
  detail::on_all_shards(impl, [&](std::size_t s) {
    transport::copy(impl, s, other.buffers_[s].data(), s, buffers_[s].data(), sizes_[s] * sizeof(T));
  });
}

template <class T>
vector<T>::vector(const vector& other, const shard::distribution& d)
    : vector(uninitialized_tag{}, other.ctx_, d.sizes(other.size_, other.ctx_.size()), d) {
  auto& impl = ctx_.impl();
  const auto plan = detail::plan_redistribution(other.sizes_, sizes_, size_);
  detail::run_and_wait(impl, [&] {
    transport::exchange(impl, plan, detail::data_of(other.buffers_), detail::mutable_data_of(buffers_));
  });
}

template <class T>
vector<T>& vector<T>::operator=(const vector& other) {
  if (this != &other) {
    vector copy(other);  // strong guarantee: *this changes only once the copy exists
    *this = std::move(copy);
  }
  return *this;
}

template <class T>
vector<T>::vector(vector&& other) noexcept
    : ctx_(other.ctx_),
      policy_(other.policy_),
      size_(std::exchange(other.size_, 0)),
      sizes_(std::move(other.sizes_)),
      offsets_(std::move(other.offsets_)),
      buffers_(std::move(other.buffers_)) {
  other.sizes_.assign(sizes_.size(), 0);
  other.offsets_.assign(sizes_.size(), 0);
  other.buffers_.resize(sizes_.size());
}

template <class T>
vector<T>& vector<T>::operator=(vector&& other) noexcept {
  if (this != &other) {
    ctx_ = other.ctx_;
    policy_ = other.policy_;
    size_ = std::exchange(other.size_, 0);
    sizes_ = std::move(other.sizes_);
    offsets_ = std::move(other.offsets_);
    buffers_ = std::move(other.buffers_);
    other.sizes_.assign(sizes_.size(), 0);
    other.offsets_.assign(sizes_.size(), 0);
    other.buffers_.clear();
    other.buffers_.resize(sizes_.size());
  }
  return *this;
}

template <class T>
shard::segment<T> vector<T>::segment(std::size_t i) const {
  if (i >= num_segments())
    throw invalid_argument("vector::segment: segment " + std::to_string(i) + " out of range (" +
                           std::to_string(num_segments()) + " segments)");
  return shard::segment<T>{buffers_[i].data(), sizes_[i], offsets_[i], i};
}

template <class T>
void vector<T>::check_index(std::size_t i, const char* what) const {
  if (i >= size_)
    throw invalid_argument(std::string("vector::") + what + ": index " + std::to_string(i) +
                           " out of range (size " + std::to_string(size_) + ")");
}

template <class T>
std::size_t vector<T>::shard_of(std::size_t i) const {
  // The last segment whose offset is <= i and that is not empty.
  auto it = std::upper_bound(offsets_.begin(), offsets_.end(), i);
  std::size_t s = static_cast<std::size_t>(it - offsets_.begin()) - 1;
  while (sizes_[s] == 0) --s;  // empty segments share their offset with the next one
  return s;
}

template <class T>
std::vector<T> vector<T>::to_host() const {
  std::vector<T> out(size_);
  auto& impl = ctx_.impl();
  detail::on_all_shards(impl, [&](std::size_t s) {
    transport::to_host(impl, s, out.data() + offsets_[s], buffers_[s].data(), sizes_[s] * sizeof(T));
  });
  return out;
}

template <class T>
T vector<T>::get(std::size_t i) const {
  check_index(i, "get");
  const std::size_t s = shard_of(i);
  T value;
  auto& impl = ctx_.impl();
  detail::on_all_shards(impl, [&](std::size_t shard) {
    if (shard == s) transport::to_host(impl, s, &value, buffers_[s].data() + (i - offsets_[s]), sizeof(T));
  });
  return value;
}

template <class T>
void vector<T>::set(std::size_t i, const T& value) {
  check_index(i, "set");
  const std::size_t s = shard_of(i);
  auto& impl = ctx_.impl();
  detail::on_all_shards(impl, [&](std::size_t shard) {
    if (shard == s) transport::from_host(impl, s, buffers_[s].data() + (i - offsets_[s]), &value, sizeof(T));
  });
}

template <class T>
std::vector<std::size_t> vector<T>::sizes_for(std::size_t n) const {
  if (policy_.type() != shard::distribution::kind::explicit_sizes) return policy_.sizes(n, ctx_.size());
  std::vector<std::size_t> sizes = sizes_;
  if (n >= size_) {
    // Grow the last non-empty segment (the last segment when all are empty).
    std::size_t last = sizes.size() - 1;
    for (std::size_t s = sizes.size(); s-- > 0;)
      if (sizes[s] != 0) {
        last = s;
        break;
      }
    sizes[last] += n - size_;
  } else {
    std::size_t excess = size_ - n;
    for (std::size_t s = sizes.size(); s-- > 0 && excess > 0;) {
      const std::size_t cut = std::min(sizes[s], excess);
      sizes[s] -= cut;
      excess -= cut;
    }
  }
  return sizes;
}

template <class T>
void vector<T>::resize(std::size_t n) {
  if (n == size_) return;
  std::vector<std::size_t> sizes = sizes_for(n);
  auto buffers = allocate(ctx_, sizes);
  auto& impl = ctx_.impl();
  const auto plan = detail::plan_redistribution(sizes_, sizes, std::min(n, size_));
  // Exchange the kept prefix and value-initialise the new tail of each segment.
  std::vector<std::pair<std::size_t, std::size_t>> tails;
  const auto offsets = detail::offsets_of(sizes);
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    const std::size_t kept = offsets[s] >= size_ ? 0 : std::min(sizes[s], size_ - offsets[s]);
    tails.emplace_back(kept, sizes[s] - kept);
  }
  detail::run_and_wait(impl, [&] {
    transport::exchange(impl, plan, detail::data_of(buffers_), detail::mutable_data_of(buffers));
    detail::enqueue_fill(impl, buffers, tails, T{});
  });
  if (policy_.type() == shard::distribution::kind::explicit_sizes) policy_ = shard::distribution::explicit_sizes(sizes);
  adopt(std::move(sizes), std::move(buffers));
}

template <class T>
void vector<T>::redistribute(const shard::distribution& d) {
  *this = vector(*this, d);
}

SHARD_NAMESPACE_END
