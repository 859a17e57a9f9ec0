#pragma once
// Definitions of shard::vector<T> (declared in <shard/vector.hpp>).
#include <shard/core/plan.hpp>
#include <shard/core/run.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/transport/copy.hpp>
#include <shard/transport/host.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

SHARD_NAMESPACE_BEGIN

namespace detail {
/// The host transfer of a whole vector: segment s <-> host[offset_s, offset_s + size_s).
/// In an SPMD context only the local segments (other ranks move their own). `host` holds
/// the elements from global index `first` on (0: all of them).
template <class T>
std::vector<transport::host_block> host_blocks(const vector<T>& v, T* host, std::size_t first = 0) {
  std::vector<transport::host_block> blocks;
  const auto& ctx = v.get_context().impl();
  for (std::size_t s = 0; s < v.num_segments(); ++s) {
    const auto seg = v.segment(s);
    if (ctx.local(s)) blocks.push_back({s, host + (seg.offset - first), seg.data, seg.size * sizeof(T)});
  }
  return blocks;
}

/// The first element of rank r's segments (they are consecutive), and the element count.
template <class T>
std::pair<std::size_t, std::size_t> rank_range(const vector<T>& v, int r) {
  const auto& ctx = v.get_context().impl();
  const std::size_t first = ctx.first_shard(r), last = ctx.first_shard(r + 1);
  std::size_t n = 0;
  for (std::size_t s = first; s < last; ++s) n += v.segment_sizes()[s];
  return {first < v.num_segments() ? v.segment(first).offset : v.size(), n};
}

/// SPMD: `host` holds this rank's elements of `v` at their global positions; afterwards it
/// holds every rank's (communicator::all_gather_v, rank by rank).
template <class T>
void share_elements(const vector<T>& v, T* host) {
  auto& ctx = v.get_context().impl();
  if (!ctx.spmd()) return;
  std::vector<std::size_t> bytes(static_cast<std::size_t>(ctx.ranks()));
  for (int r = 0; r < ctx.ranks(); ++r) bytes[r] = rank_range(v, r).second * sizeof(T);
  T* mine = host + rank_range(v, ctx.rank()).first;
  ctx.communicate("vector::to_host", [&](auto deadline) { return ctx.comm().all_gather_v(mine, host, bytes, deadline); });
}

/// Every element of `v` in host[0, v.size()) on every rank: one host transfer of the local
/// segments, then (SPMD) the other ranks' elements.
template <class T>
void download(const vector<T>& v, T* host) {
  transport::host_transfer(v.get_context().impl(), host_blocks(v, host), transport::host_direction::to_host);
  share_elements(v, host);
}

/// The segment sizes of a vector made of every rank's own part (`mine` elements here): each
/// rank's part spread evenly over its shards, rank by rank. Collective in an SPMD context.
inline std::vector<std::size_t> local_part_sizes(context_impl& ctx, std::size_t mine) {
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(ctx.ranks()), mine);
  if (ctx.spmd()) {
    const std::uint64_t n = mine;
    ctx.communicate("vector(local_parts)", [&](auto deadline) {
      return ctx.comm().all_gather_v(&n, counts.data(),
                                     std::vector<std::size_t>(counts.size(), sizeof(std::uint64_t)), deadline);
    });
  }
  std::vector<std::size_t> sizes;
  for (int r = 0; r < ctx.ranks(); ++r) {
    const std::size_t shards = ctx.first_shard(r + 1) - ctx.first_shard(r);
    if (shards == 0) {  // a rank left with no shard (failover): it holds nothing
      if (counts[r] != 0)
        throw invalid_argument("vector(local_parts): rank " + std::to_string(r) + " has no shard to hold its " +
                               std::to_string(counts[r]) + " elements");
      continue;
    }
    const auto part = distribution::even().sizes(static_cast<std::size_t>(counts[r]), shards);
    sizes.insert(sizes.end(), part.begin(), part.end());
  }
  return sizes;
}
}  // namespace detail

template <class T>
void vector<T>::adopt(detail::segmented_buffer<T> storage) {
  size_ = 0;
  for (auto n : storage.sizes()) size_ += n;
  sizes_ = storage.sizes();
  offsets_ = detail::offsets_of(sizes_);
  storage_ = std::move(storage);
}

template <class T>
vector<T>::vector(uninitialized_tag, const context& ctx, std::vector<std::size_t> sizes, shard::distribution policy)
    : ctx_(ctx), policy_(std::move(policy)) {
  adopt(detail::segmented_buffer<T>(ctx_.impl(), std::move(sizes)));
}

template <class T>
vector<T>::vector(adopt_tag, const context& ctx, detail::segmented_buffer<T> storage, shard::distribution policy)
    : ctx_(ctx), policy_(std::move(policy)) {
  adopt(std::move(storage));
}

template <class T>
vector<T> vector<T>::wrap(const context& ctx, const std::vector<std::span<T>>& buffers) {
  auto& impl = ctx.impl();
  const auto& local = impl.local_shards();
  const std::size_t g = ctx.size();
  std::vector<T*> data(g, nullptr);
  std::vector<std::uint64_t> mine(local.size(), 0);
  std::exception_ptr failure;
  try {
    impl.require_usable();
    if (buffers.size() != local.size())
      throw invalid_argument("vector::wrap: " + std::to_string(buffers.size()) + " buffers for " +
                             std::to_string(local.size()) + " shards" + (impl.spmd() ? " of this rank" : "") +
                             " (one buffer per shard, in shard order)");
    struct extent {
      std::uintptr_t begin, end;
      std::size_t shard;
    };
    std::vector<extent> extents;
    for (std::size_t k = 0; k < local.size(); ++k) {
      const std::size_t s = local[k];
      const auto& b = buffers[k];
      const std::string which = "vector::wrap: the buffer of shard " + std::to_string(s);
      mine[k] = b.size();
      if (b.empty()) continue;
      if (b.data() == nullptr)
        throw invalid_argument(which + " is null but holds " + std::to_string(b.size()) + " elements");
      const auto begin = reinterpret_cast<std::uintptr_t>(b.data());
      if (begin % alignof(T) != 0)
        throw invalid_argument(which + " is not aligned for its elements (alignof = " + std::to_string(alignof(T)) +
                               ")");
      const std::string other = impl.dev(s).foreign_memory(b.data());
      if (!other.empty())
        throw invalid_argument(which + " is " + other + ", not memory of the shard's device " +
                               std::to_string(impl.dev(s).ordinal()));
      data[s] = b.data();
      extents.push_back({begin, begin + b.size_bytes(), s});
    }
    std::sort(extents.begin(), extents.end(), [](const extent& a, const extent& b) { return a.begin < b.begin; });
    for (std::size_t k = 1; k < extents.size(); ++k)
      if (extents[k].begin < extents[k - 1].end)
        throw invalid_argument("vector::wrap: the buffers of shards " + std::to_string(extents[k - 1].shard) + " and " +
                               std::to_string(extents[k].shard) + " overlap");
  } catch (...) {
    failure = std::current_exception();
  }
  impl.agree(failure, impl.step_shape("vector::wrap"));
  std::vector<std::size_t> sizes(g, 0);
  if (impl.spmd()) {
    std::vector<std::uint64_t> all(g, 0);
    std::vector<std::size_t> bytes(static_cast<std::size_t>(impl.ranks()));
    for (int r = 0; r < impl.ranks(); ++r)
      bytes[static_cast<std::size_t>(r)] = (impl.first_shard(r + 1) - impl.first_shard(r)) * sizeof(std::uint64_t);
    impl.communicate("vector::wrap", [&](auto deadline) {
      return impl.comm().all_gather_v(mine.data(), all.data(), bytes, deadline);
    });
    for (std::size_t s = 0; s < g; ++s) sizes[s] = static_cast<std::size_t>(all[s]);
  } else {
    for (std::size_t k = 0; k < local.size(); ++k) sizes[local[k]] = static_cast<std::size_t>(mine[k]);
  }
  auto policy = shard::distribution::explicit_sizes(sizes);
  return vector(adopt_tag{}, ctx,
                detail::segmented_buffer<T>(typename detail::segmented_buffer<T>::borrowed_t{}, std::move(sizes), data),
                std::move(policy));
}

template <class T>
void vector<T>::require_owned(const char* what, const char* why) const {
  if (wrapped())
    throw invalid_argument(std::string(what) + ": the vector wraps the application's memory (vector::wrap), which " +
                           "shard never reallocates, and " + why);
}

template <class T>
void vector<T>::copy_into_wrapped(const vector& other) {
  if (!(other.ctx_ == ctx_))
    throw invalid_argument("vector::operator=: the vector wraps the application's memory (vector::wrap) of another "
                           "context: its elements cannot be replaced by a vector of this one");
  if (other.size_ != size_)
    throw invalid_argument("vector::operator=: the vector wraps the application's memory (vector::wrap) for " +
                           std::to_string(size_) + " elements, which shard never reallocates, and " +
                           std::to_string(other.size_) + " elements (an assignment, or an algorithm's result) were to "
                           "replace them");
  if (&other == this) return;
  auto& impl = ctx_.impl();
  const auto plan = detail::plan_redistribution(other.sizes_, sizes_, size_);
  detail::run_and_wait(impl, [&] { transport::exchange(impl, plan, detail::pointers(other), storage_.pointers()); });
}

template <class T>
vector<T>::vector(const context& ctx, std::size_t n, shard::distribution d) : vector(ctx, n, T{}, std::move(d)) {}

template <class T>
vector<T>::vector(const context& ctx, std::size_t n, const T& value, shard::distribution d)
    : vector(uninitialized_tag{}, ctx, d.sizes(n, ctx.size(), sizeof(T)), d) {
  auto& impl = ctx_.impl();
  detail::run_and_wait(impl, [&] { detail::enqueue_fill(impl, storage_.pointers(), sizes_, value); });
}

template <class T>
vector<T>::vector(const context& ctx, std::span<const T> host, shard::distribution d)
    : vector(uninitialized_tag{}, ctx, d.sizes(host.size(), ctx.size(), sizeof(T)), d) {
  transport::host_transfer(ctx_.impl(), detail::host_blocks(*this, const_cast<T*>(host.data())),
                           transport::host_direction::from_host);
}

template <class T>
vector<T>::vector(const context& ctx, const std::vector<T>& host, shard::distribution d)
    : vector(ctx, detail::contiguous_copy<T>(host).span(), std::move(d)) {}

template <class T>
vector<T>::vector(const context& ctx, local_parts_t, std::span<const T> mine)
    : vector(uninitialized_tag{}, ctx, detail::local_part_sizes(ctx.impl(), mine.size()),
             shard::distribution::even()) {
  policy_ = shard::distribution::explicit_sizes(sizes_);
  const std::size_t start = detail::rank_range(*this, ctx_.impl().rank()).first;
  transport::host_transfer(ctx_.impl(), detail::host_blocks(*this, const_cast<T*>(mine.data()), start),
                           transport::host_direction::from_host);
}

namespace detail {
/// vector(ctx, other, d) across contexts (see there).
template <class T>
vector<T> copy_across(const context& ctx, const vector<T>& other, const shard::distribution& d) {
  if (ctx == other.get_context()) return vector<T>(other, d);
  auto& to = ctx.impl();
  auto& from = other.get_context().impl();
  if (to.spmd() != from.spmd() || to.ranks() != from.ranks())
    throw invalid_argument("vector(context, other): the contexts span " + std::to_string(from.ranks()) + " and " +
                           std::to_string(to.ranks()) + " processes (" + (from.spmd() ? "SPMD" : "single-process") +
                           " and " + (to.spmd() ? "SPMD" : "single-process") +
                           "): a vector moves between single-process contexts, or between SPMD contexts of the "
                           "same processes");
  if (!from.spmd()) return vector<T>(ctx, other.to_host(), d);
  // Each rank's own elements, from its shards of `other` to its shards of ctx.
  const auto [start, count] = rank_range(other, from.rank());
  const std::unique_ptr<T[]> mine(new T[count == 0 ? 1 : count]);
  transport::host_transfer(from, host_blocks(other, mine.get(), start), transport::host_direction::to_host);
  vector<T> w(ctx, local_parts, std::span<const T>(mine.get(), count));
  if (d.sizes(w.size(), ctx.size(), sizeof(T)) != w.segment_sizes()) w.redistribute(d);
  return w;
}
}  // namespace detail

template <class T>
vector<T>::vector(const context& ctx, const vector& other, shard::distribution d)
    : vector(detail::copy_across(ctx, other, d)) {}

template <class T>
vector<T>::vector(const vector& other) : vector(uninitialized_tag{}, other.ctx_, other.sizes_, other.policy_) {
  auto& impl = ctx_.impl();
  detail::run_and_wait(impl, [&] {
    std::vector<detail::transfer> plan;
    for (std::size_t s = 0; s < sizes_.size(); ++s)
      if (sizes_[s] != 0) plan.push_back(detail::transfer{s, 0, s, 0, sizes_[s]});
    transport::exchange(impl, plan, detail::pointers(other), storage_.pointers());
  });
}

template <class T>
vector<T>::vector(const vector& other, const shard::distribution& d)
    : vector(uninitialized_tag{}, other.ctx_, d.sizes(other.size_, other.ctx_.size(), sizeof(T)), d) {
  auto& impl = ctx_.impl();
  const auto plan = detail::plan_redistribution(other.sizes_, sizes_, size_);
  detail::run_and_wait(impl, [&] { transport::exchange(impl, plan, detail::pointers(other), storage_.pointers()); });
}

template <class T>
vector<T>& vector<T>::operator=(const vector& other) {
  if (wrapped()) {
    copy_into_wrapped(other);
    return *this;
  }
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
      storage_(std::move(other.storage_)) {
  other.sizes_.assign(sizes_.size(), 0);
  other.offsets_.assign(sizes_.size(), 0);
  other.storage_ = detail::segmented_buffer<T>();
}

template <class T>
vector<T>& vector<T>::operator=(vector&& other) {
  if (wrapped()) {
    copy_into_wrapped(other);
    return *this;
  }
  if (this != &other) {
    ctx_ = other.ctx_;
    policy_ = other.policy_;
    size_ = std::exchange(other.size_, 0);
    sizes_ = std::move(other.sizes_);
    offsets_ = std::move(other.offsets_);
    storage_ = std::move(other.storage_);
    other.sizes_.assign(sizes_.size(), 0);
    other.offsets_.assign(sizes_.size(), 0);
    other.storage_ = detail::segmented_buffer<T>();
  }
  return *this;
}

template <class T>
shard::segment<T> vector<T>::segment(std::size_t i) const {
  if (i >= num_segments())
    throw invalid_argument("vector::segment: segment " + std::to_string(i) + " out of range (" +
                           std::to_string(num_segments()) + " segments)");
  return shard::segment<T>{storage_.data(i), sizes_[i], offsets_[i], i, ctx_.topology().shards[i].ordinal};
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
  if constexpr (std::is_same_v<T, bool>) {
    // std::vector<bool> is bit-packed: unpack through a plain array.
    const std::unique_ptr<bool[]> plain(new bool[size_]);
    detail::download(*this, plain.get());
    return std::vector<bool>(plain.get(), plain.get() + size_);
  } else {
    std::vector<T> out(size_);
    detail::download(*this, out.data());
    return out;
  }
}

template <class T>
std::vector<T> vector<T>::to_host_on(int root) const {
  auto& ctx = ctx_.impl();
  if (root < 0 || root >= ctx.ranks())
    throw invalid_argument("vector::to_host_on: rank " + std::to_string(root) + " out of range (the context has " +
                           std::to_string(ctx.ranks()) + " ranks)");
  if (!ctx.spmd()) return to_host();
  // This rank's elements first (at their global positions on the root, in a buffer of their
  // own elsewhere), then one message from every other rank to the root.
  const auto [start, count] = detail::rank_range(*this, ctx.rank());
  const bool root_here = ctx.rank() == root;
  const std::size_t room = root_here ? size_ : count;
  const std::unique_ptr<T[]> plain(new T[room == 0 ? 1 : room]);
  transport::host_transfer(ctx, detail::host_blocks(*this, plain.get(), root_here ? 0 : start),
                           transport::host_direction::to_host);
  std::vector<communicator::outgoing> sends;
  std::vector<communicator::incoming> receives;
  if (!root_here && count != 0) sends.push_back({root, plain.get(), count * sizeof(T)});
  if (root_here)
    for (int r = 0; r < ctx.ranks(); ++r) {
      const auto [first, n] = detail::rank_range(*this, r);
      if (r != root && n != 0) receives.push_back({r, plain.get() + first, n * sizeof(T)});
    }
  ctx.communicate("vector::to_host_on", [&](auto deadline) { return ctx.comm().exchange(sends, receives, deadline); });
  if (!root_here) return {};
  return std::vector<T>(plain.get(), plain.get() + size_);
}

template <class T>
T vector<T>::get(std::size_t i) const {
  check_index(i, "get");
  const std::size_t s = shard_of(i);
  auto& ctx = ctx_.impl();
  T value{};
  std::vector<transport::host_block> block;
  if (ctx.local(s)) block.push_back({s, &value, storage_.data(s) + (i - offsets_[s]), sizeof(T)});
  transport::host_transfer(ctx, block, transport::host_direction::to_host);
  if (ctx.spmd()) {
    // From the rank that holds it to every other rank.
    std::vector<std::size_t> bytes(static_cast<std::size_t>(ctx.ranks()), 0);
    bytes[static_cast<std::size_t>(ctx.rank_of(s))] = sizeof(T);
    ctx.communicate("vector::get", [&](auto deadline) { return ctx.comm().all_gather_v(&value, &value, bytes, deadline); });
  }
  return value;
}

template <class T>
void vector<T>::set(std::size_t i, const T& value) {
  check_index(i, "set");
  const std::size_t s = shard_of(i);
  auto& ctx = ctx_.impl();
  T copy = value;
  std::vector<transport::host_block> block;
  if (ctx.local(s)) block.push_back({s, &copy, storage_.data(s) + (i - offsets_[s]), sizeof(T)});
  transport::host_transfer(ctx, block, transport::host_direction::from_host);
}

template <class T>
std::vector<std::size_t> vector<T>::sizes_for(std::size_t n) const {
  if (policy_.type() != shard::distribution::kind::explicit_sizes) return policy_.sizes(n, ctx_.size(), sizeof(T));
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
  require_owned("vector::resize", ("its size cannot change from " + std::to_string(size_) + " to " +
                                   std::to_string(n) + " elements").c_str());
  std::vector<std::size_t> sizes = sizes_for(n);
  auto& impl = ctx_.impl();
  detail::segmented_buffer<T> storage(impl, sizes);
  const auto plan = detail::plan_redistribution(sizes_, sizes, std::min(n, size_));
  // Exchange the kept prefix and value-initialise the new tail of each segment.
  const auto offsets = detail::offsets_of(sizes);
  std::vector<T*> tail(sizes.size());
  std::vector<std::size_t> tail_size(sizes.size());
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    const std::size_t kept = offsets[s] >= size_ ? 0 : std::min(sizes[s], size_ - offsets[s]);
    tail[s] = storage.data(s) + kept;
    tail_size[s] = sizes[s] - kept;
  }
  detail::run_and_wait(impl, [&] {
    transport::exchange(impl, plan, detail::pointers(std::as_const(*this)), storage.pointers());
    detail::enqueue_fill(impl, tail, tail_size, T{});
  });
  if (policy_.type() == shard::distribution::kind::explicit_sizes) policy_ = shard::distribution::explicit_sizes(sizes);
  adopt(std::move(storage));
}

template <class T>
void vector<T>::redistribute(const shard::distribution& d) {
  if (wrapped()) {
    if (d.sizes(size_, ctx_.size(), sizeof(T)) == sizes_) return;  // its layout already
    require_owned("vector::redistribute", "its segments cannot change size");
  }
  *this = vector(*this, d);
}

SHARD_NAMESPACE_END
