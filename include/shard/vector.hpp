#pragma once
/// @file vector.hpp
/// shard::vector<T>: a sequence split into one contiguous segment per shard.
#include <shard/config.hpp>
#include <shard/context.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/distribution.hpp>
#include <shard/error.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN

namespace detail {
struct vector_access;
}  // namespace detail

/// Tag of the vector constructor from every rank's own part (SPMD contexts).
struct local_parts_t {
  explicit local_parts_t() = default;
};
inline constexpr local_parts_t local_parts{};

/// One shard's part of a vector: a trivially copyable view, usable in device code.
template <class T>
struct segment {
  T* data;             ///< first element, in the shard's device memory (nullptr when empty)
  std::size_t size;    ///< number of elements
  std::size_t offset;  ///< global index of the first element
  std::size_t shard;   ///< shard that holds it
  int device = -1;     ///< that shard's device: CUDA ordinal, or the emulated device's index
};

/// A vector of `T` whose elements are split into one segment per shard of a context, laid
/// out in shard order (shard 0 holds the first elements). T must be trivially copyable:
/// elements move between devices as bytes.
///
/// Every operation is complete when it returns (the host waits on the shards it used);
/// failures throw (see error.hpp) and leave the vector as it was.
template <class T>
class vector {
  static_assert(std::is_trivially_copyable_v<T>,
                "shard::vector<T> requires a trivially copyable T: elements are copied between devices as bytes");

 public:
  using value_type = T;
  using size_type = std::size_t;

  /// n value-initialised elements. Moves 0 bytes; one launch per non-empty segment.
  vector(const context& ctx, std::size_t n, distribution d = distribution::even());
  /// n copies of `value`.
  vector(const context& ctx, std::size_t n, const T& value, distribution d = distribution::even());
  /// A copy of host memory (host -> shards: n * sizeof(T) bytes, all shards at once).
  vector(const context& ctx, std::span<const T> host, distribution d = distribution::even());
  /// A copy of a std::vector, as from its span; also std::vector<bool> (which has no
  /// contiguous data: it is unpacked first).
  vector(const context& ctx, const std::vector<T>& host, distribution d = distribution::even());
  /// A vector made of every rank's own part (`mine`: any number of elements per rank), for
  /// data that is never whole on one host: rank 0's part first, each rank's part spread evenly
  /// over that rank's shards (no element leaves its rank; the policy is those explicit
  /// sizes). Collective in an SPMD context; in a single-process context it is the span
  /// constructor with that layout.
  vector(const context& ctx, local_parts_t, std::span<const T> mine);

  /// A vector over memory the application allocated, without copying: `buffers[k]` is the
  /// k-th local shard's segment (context::local_shards(); in a single-process context every
  /// shard, in shard order), any size, in that shard's device memory and aligned for T;
  /// segments may be empty (null, 0). shard never frees nor reallocates it: the buffers must
  /// outlive the vector (and its moves), and an operation that would need other memory (resize
  /// to another size, redistribute to another layout, an assignment or algorithm result of
  /// another size) throws invalid_argument. Every algorithm takes it; assignments of equally
  /// many elements copy into it. Collective in an SPMD context (the ranks learn each other's
  /// sizes). Throws invalid_argument for a wrong number of buffers, a null or misaligned
  /// buffer, overlapping buffers, or (CUDA) memory that is not the shard's GPU's.
  static vector wrap(const context& ctx, const std::vector<std::span<T>>& buffers);

  /// A copy of `other`, a vector of any context, on `ctx`, laid out by `d`: onto other
  /// devices, another backend, more or fewer shards ("scale gradually", or failover:
  /// docs/failover.md). On the same context it is vector(other, d). Otherwise the elements
  /// travel through the host: in a single-process context once through host memory
  /// (other.to_host(), then to ctx's shards); between two SPMD contexts over the same
  /// processes, each rank's own elements to that rank's shards of ctx (the local_parts
  /// layout), then an exchange into `d`. Collective in SPMD contexts. Throws invalid_argument
  /// for a single-process context and an SPMD one together, or SPMD contexts of different
  /// rank counts.
  vector(const context& ctx, const vector& other, shard::distribution d = shard::distribution::even());
  /// Deep copy, same context and distribution (local device copies only).
  vector(const vector& other);
  /// A copy laid out by `d`: moves exactly the elements that change shard; the others are
  /// copied within their shard.
  vector(const vector& other, const shard::distribution& d);
  /// Copy assignment. Into a wrapped vector (wrap): the elements are copied into its memory,
  /// which keeps its layout; invalid_argument when the sizes or contexts differ.
  vector& operator=(const vector& other);
  /// Moves the segments; `other` is left empty (size 0) on the same context.
  vector(vector&& other) noexcept;
  /// Takes other's segments; `other` is left empty. Into a wrapped vector the elements are
  /// copied instead (as a std::vector whose allocator does not propagate), with the copy
  /// assignment's checks: this move assignment throws only then.
  vector& operator=(vector&& other);
  ~vector() = default;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  /// Number of segments = number of shards of the context (segments may be empty).
  std::size_t num_segments() const noexcept { return sizes_.size(); }
  /// The i-th segment (held by shard i). Throws invalid_argument for i >= num_segments(). In an
  /// SPMD context every segment's size and offset is known on every rank, its data pointer only
  /// on the rank that drives shard i (null elsewhere).
  shard::segment<T> segment(std::size_t i) const;
  /// The segment sizes, in shard order.
  const std::vector<std::size_t>& segment_sizes() const noexcept { return sizes_; }
  /// The resolved layout, as explicit sizes: equal for two vectors exactly when they are
  /// aligned (element i lives on the same shard in both).
  shard::distribution distribution() const { return distribution::explicit_sizes(sizes_); }
  /// The rule this vector was built with, re-applied by resize().
  const shard::distribution& policy() const noexcept { return policy_; }
  const shard::context& get_context() const noexcept { return ctx_; }
  /// Whether the segments are the application's memory (made by wrap, or moved from such a
  /// vector): never freed or reallocated by shard.
  bool wrapped() const noexcept { return storage_.borrowed(); }

  /// All elements, copied to the host, all shards at once (one host sync). In an SPMD context:
  /// collective, and every rank gets all elements.
  std::vector<T> to_host() const;
  /// All elements on rank `root` (an empty vector on the other ranks): collective in an SPMD
  /// context, to_host() in a single-process one. Throws invalid_argument for a rank out of
  /// range.
  std::vector<T> to_host_on(int root) const;
  /// Element i (one host sync). Throws invalid_argument when i >= size().
  T get(std::size_t i) const;
  /// Sets element i (one host sync). Throws invalid_argument when i >= size().
  void set(std::size_t i, const T& value);
  /// Changes the size to n, keeping the first min(n, size()) elements and value-initialising
  /// the rest. The policy is applied to n: even and weighted re-split, explicit sizes keep
  /// every segment but the last non-empty ones (shrinking trims from the back, growing
  /// extends the last segment). Elements that change shard move through the transport.
  void resize(std::size_t n);
  /// Re-splits the elements by `d`; moves exactly the elements that change shard.
  void redistribute(const shard::distribution& d);

 private:
  friend struct detail::vector_access;
  struct uninitialized_tag {};
  vector(uninitialized_tag, const context& ctx, std::vector<std::size_t> sizes, shard::distribution policy);
  struct adopt_tag {};
  vector(adopt_tag, const context& ctx, detail::segmented_buffer<T> storage, shard::distribution policy);
  void check_index(std::size_t i, const char* what) const;
  std::size_t shard_of(std::size_t i) const;
  void adopt(detail::segmented_buffer<T> storage);
  void copy_into_wrapped(const vector& other);
  void require_owned(const char* what, const char* why) const;
  std::vector<std::size_t> sizes_for(std::size_t n) const;

  context ctx_;
  shard::distribution policy_;
  std::size_t size_ = 0;
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> offsets_;
  detail::segmented_buffer<T> storage_;
};

namespace detail {
/// A std::vector's elements as one contiguous array: its own data(), or for std::vector<bool>
/// (bit-packed) an unpacked copy.
template <class T>
class contiguous_copy {
 public:
  explicit contiguous_copy(const std::vector<T>& v) : view_(v.data(), v.size()) {}
  std::span<const T> span() const noexcept { return view_; }

 private:
  std::span<const T> view_;
};
template <>
class contiguous_copy<bool> {
 public:
  explicit contiguous_copy(const std::vector<bool>& v) : data_(new bool[v.size()]), size_(v.size()) {
    std::copy(v.begin(), v.end(), data_.get());
  }
  std::span<const bool> span() const noexcept { return {data_.get(), size_}; }

 private:
  std::unique_ptr<bool[]> data_;
  std::size_t size_;
};

/// For algorithms that produce a vector whose elements they write themselves (copy_if, unique):
/// a vector of uninitialised elements laid out by `sizes`.
struct vector_access {
  template <class T>
  static vector<T> uninitialized(const context& ctx, std::vector<std::size_t> sizes, shard::distribution policy) {
    return vector<T>(typename vector<T>::uninitialized_tag{}, ctx, std::move(sizes), std::move(policy));
  }
  /// The vector's memory (algorithms that commit results computed in buffers of their own).
  template <class T>
  static segmented_buffer<T>& storage(vector<T>& v) noexcept {
    return v.storage_;
  }
  /// A vector that takes over `storage` (memory of ctx's shards, written by the caller), with
  /// `policy` as its rule for resize().
  template <class T>
  static vector<T> adopt(const context& ctx, segmented_buffer<T> storage, shard::distribution policy) {
    vector<T> v(typename vector<T>::uninitialized_tag{}, ctx, std::vector<std::size_t>(ctx.size(), 0),
                std::move(policy));
    v.adopt(std::move(storage));
    return v;
  }
};

/// The segments' data pointers, in shard order (the lists the transport and skeletons take).
template <class T>
std::vector<const T*> pointers(const vector<T>& v) {
  std::vector<const T*> out;
  for (std::size_t s = 0; s < v.num_segments(); ++s) out.push_back(v.segment(s).data);
  return out;
}
template <class T>
std::vector<T*> pointers(vector<T>& v) {
  std::vector<T*> out;
  for (std::size_t s = 0; s < v.num_segments(); ++s) out.push_back(v.segment(s).data);
  return out;
}
}  // namespace detail

SHARD_NAMESPACE_END

#include <shard/detail/vector.inl>
