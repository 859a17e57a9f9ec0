#pragma once
/// @file core/functors.hpp
/// Small function objects the skeletons hand to the backends' primitives. They are plain
/// structs (not lambdas) so that library code needs no extended-lambda support and runs on
/// both backends unchanged. Those that call a caller's function object sit inside the
/// device-check region (config.hpp): in a CUDA translation unit, wrapping a callable that
/// cannot run on the device is a compile error, not an empty kernel.
#include <shard/config.hpp>
#include <shard/functional.hpp>

#include <cstddef>
#include <type_traits>

SHARD_NAMESPACE_BEGIN
SHARD_DETAIL_DEVICE_CHECKS_BEGIN
namespace detail {

/// p[i] = value
template <class T>
struct fill_fn {
  T* p;
  T value;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const { p[i] = value; }
};

/// p[i] = first + (offset + i): the element's global index added to the first value.
template <class T>
struct iota_fn {
  T* p;
  T first;
  std::size_t offset;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const { p[i] = static_cast<T>(first + static_cast<T>(offset + i)); }
};

/// x itself.
struct identity_fn {
  template <class T>
  SHARD_DETAIL_HOST_DEVICE const T& operator()(const T& x) const {
    return x;
  }
};

/// op(p[i])
template <class T, class Op>
struct read_fn {
  const T* p;
  Op op;
  SHARD_DETAIL_HOST_DEVICE auto operator()(std::size_t i) const { return op(p[i]); }
};

/// op(a[i], b[i])
template <class A, class B, class Op>
struct read2_fn {
  const A* a;
  const B* b;
  Op op;
  SHARD_DETAIL_HOST_DEVICE auto operator()(std::size_t i) const { return op(a[i], b[i]); }
};

/// 1 when pred(p[i]) holds, else 0.
template <class T, class Pred>
struct count_fn {
  const T* p;
  Pred pred;
  SHARD_DETAIL_HOST_DEVICE std::size_t operator()(std::size_t i) const { return pred(p[i]) ? 1 : 0; }
};

/// x == value
template <class T>
struct equals_fn {
  T value;
  SHARD_DETAIL_HOST_DEVICE bool operator()(const T& x) const { return x == value; }
};

/// A value that may be absent: gives every reduction operator an identity, so segments are
/// reduced without an initial value and the caller's init is applied exactly once.
template <class T>
struct maybe {
  T value;
  bool valid;
};

/// op extended to maybe<T>: an absent operand is the identity.
template <class Op>
struct maybe_op {
  Op op;
  template <class T>
  SHARD_DETAIL_HOST_DEVICE maybe<T> operator()(const maybe<T>& a, const maybe<T>& b) const {
    if (!a.valid) return b;
    if (!b.valid) return a;
    return maybe<T>{static_cast<T>(op(a.value, b.value)), true};
  }
};

/// *slot = value, present: where reduce_in_order stores a scan partial.
template <class T>
struct store_present_fn {
  maybe<T>* slot;
  SHARD_DETAIL_HOST_DEVICE void operator()(const T& value) const { *slot = maybe<T>{value, true}; }
};

/// f(i) as a present maybe<U>.
template <class U, class F>
struct present_fn {
  F f;
  SHARD_DETAIL_HOST_DEVICE maybe<U> operator()(std::size_t i) const { return maybe<U>{static_cast<U>(f(i)), true}; }
};

/// f(i) converted to U (the values an exact sum of U adds).
template <class U, class F>
struct convert_fn {
  F f;
  SHARD_DETAIL_HOST_DEVICE U operator()(std::size_t i) const { return static_cast<U>(f(i)); }
};

/// True when `Op` is shard::plus<X> for some X (std::plus is taken as shard's: callable_t).
template <class Op>
inline constexpr bool is_plus = false;
template <class X>
inline constexpr bool is_plus<plus<X>> = true;

/// True when `Op` is addition over an arithmetic U, whose identity U{} lets the backends
/// reduce a raw pointer at full speed instead of through maybe<U>.
template <class Op, class U>
inline constexpr bool is_arithmetic_plus =
    std::is_arithmetic_v<U> && (std::is_same_v<Op, plus<>> || std::is_same_v<Op, plus<U>>);

/// The key types both backends' radix sorts take (CUB's NumericTraits: bool, the char, short,
/// int, long and long long types, float, double; not wchar_t, char8/16/32_t or long double).
template <class K>
inline constexpr bool radix_key =
    std::is_same_v<K, bool> || std::is_same_v<K, char> || std::is_same_v<K, signed char> ||
    std::is_same_v<K, unsigned char> || std::is_same_v<K, short> || std::is_same_v<K, unsigned short> ||
    std::is_same_v<K, int> || std::is_same_v<K, unsigned> || std::is_same_v<K, long> ||
    std::is_same_v<K, unsigned long> || std::is_same_v<K, long long> || std::is_same_v<K, unsigned long long> ||
    std::is_same_v<K, float> || std::is_same_v<K, double>;

/// 1 when Comp orders a radix key K ascending (shard::less), -1 descending (greater), else 0:
/// the keys a radix sort can order, by their bits, as the comparator would.
template <class Comp, class K>
inline constexpr int radix_order =
    !radix_key<K> ? 0
    : (std::is_same_v<Comp, less<>> || std::is_same_v<Comp, less<K>>)       ? 1
    : (std::is_same_v<Comp, greater<>> || std::is_same_v<Comp, greater<K>>) ? -1
                                                                            : 0;

/// static_cast<V>(op(a, b)): the reduction operator of reduce_by_key, wrapped here so that an
/// operator that cannot run on the device is a compile error (CUB calls it from a
/// __host__ __device__ function in a system header, where nvcc would only warn).
template <class V, class Op>
struct value_op {
  Op op;
  SHARD_DETAIL_HOST_DEVICE V operator()(const V& a, const V& b) const { return static_cast<V>(op(a, b)); }
};

/// out[j] = the number of elements of sorted[0, n) ordered before needles[j] (lower bound),
/// or not after it (upper bound): a binary search per needle.
template <class K, class Comp>
struct bounds_fn {
  const K* sorted;
  std::size_t n;
  const K* needles;
  std::size_t* out;
  Comp comp;
  bool upper;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t j) const {
    const K x = needles[j];
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      const bool go_right = upper ? !comp(x, sorted[mid]) : comp(sorted[mid], x);
      if (go_right) lo = mid + 1;
      else hi = mid;
    }
    out[j] = lo;
  }
};

/// The position of sample t of m samples (m <= n) of n sorted elements: the first and the
/// last element, and m - 2 regularly spaced between them, shifted by `phase` in
/// [0, max(n - 2, 1)): 1 + floor(((t - 1) (n - 2) + phase) / (m - 2)), computed without
/// forming t n. Strictly ascending in t. The ends make the sample bounds of a run that lies
/// wholly before or after a key exact.
SHARD_DETAIL_HOST_DEVICE inline std::size_t sample_position(std::size_t t, std::size_t n, std::size_t m,
                                                          std::size_t phase) {
  if (t == 0) return 0;
  if (t + 1 == m) return n - 1;
  const std::size_t inner = n - 2, count = m - 2, i = t - 1;
  return 1 + i * (inner / count) + (i * (inner % count) + phase) / count;
}

/// out[t] = in[sample_position(t, n, m, phase)] for t < m: m samples of a sorted range.
template <class K>
struct sample_fn {
  const K* in;
  std::size_t n;
  std::size_t m;
  K* out;
  std::size_t phase = 0;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t t) const { out[t] = in[sample_position(t, n, m, phase)]; }
};

/// offset[0] = 0, offset[t + 1] = offset[t] + (to[t] - from[t]) for t < n: where each of n
/// ranges starts when they are packed one after another (packed_slice_fn). One index: n is
/// small (the sort's targets), and a GPU reads the bounds it sums in order from one cache line
/// after another.
struct range_offsets_fn {
  const std::size_t* from;
  const std::size_t* to;
  std::size_t n;
  std::size_t* offset;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t) const {
    std::size_t at = 0;
    offset[0] = 0;
    for (std::size_t t = 0; t < n; ++t) offset[t + 1] = at += to[t] - from[t];
  }
};

/// The n ranges in[from[t], to[t]) of a sorted run packed one after another into out, as far
/// as `capacity` elements reach (offset: range_offsets_fn's); index i copies the `chunk`
/// elements of out from i * chunk on, finding the range that holds the first of them by
/// bisection of the offsets. So the work follows the elements copied, whatever the ranges'
/// lengths.
template <class K>
struct packed_slice_fn {
  const K* in;
  const std::size_t* from;
  const std::size_t* offset;
  std::size_t n;
  std::size_t capacity;
  std::size_t chunk;
  K* out;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t end = offset[n] < capacity ? offset[n] : capacity;
    std::size_t p = i * chunk;
    const std::size_t stop = p + chunk < end ? p + chunk : end;
    if (p >= stop) return;
    std::size_t lo = 0, hi = n;  // the last range t with offset[t] <= p (offset[n] > p)
    while (hi - lo > 1) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (offset[mid] <= p) lo = mid;
      else hi = mid;
    }
    for (std::size_t t = lo; p < stop; ++t) {  // the part of each range in the chunk, in turn
      const std::size_t until = offset[t + 1] < stop ? offset[t + 1] : stop;
      const K* src = in + from[t] + (p - offset[t]);
      for (; p < until; ++p) out[p] = *src++;
    }
  }
};

/// A segment's first and last elements and its number of descents (i with comp(p[i+1], p[i])).
template <class K>
struct edges {
  K first;
  K last;
  std::size_t descents;
};

/// out->first = p[0], out->last = p[n-1] (n > 0).
template <class K>
struct edges_fn {
  const K* p;
  std::size_t n;
  edges<K>* out;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t) const {
    out->first = p[0];
    out->last = p[n - 1];
  }
};

/// 1 when p[i+1] is ordered before p[i].
template <class K, class Comp>
struct descent_fn {
  const K* p;
  Comp comp;
  SHARD_DETAIL_HOST_DEVICE std::size_t operator()(std::size_t i) const { return comp(p[i + 1], p[i]) ? 1 : 0; }
};

/// Flag of copy_if: pred(p[i]) (keep == true) or its negation (remove_if).
template <class T, class Pred>
struct keep_fn {
  const T* p;
  Pred pred;
  bool keep;
  SHARD_DETAIL_HOST_DEVICE bool operator()(std::size_t i) const { return pred(p[i]) == keep; }
};

/// Flag of unique: element i starts a new run of equal elements. `previous` is the last
/// element of the nearest non-empty segment before this one (null for the first).
template <class T>
struct run_start_fn {
  const T* p;
  const T* previous;
  SHARD_DETAIL_HOST_DEVICE bool operator()(std::size_t i) const {
    if (i == 0) return previous == nullptr || !(*previous == p[0]);
    return !(p[i - 1] == p[i]);
  }
};

/// A segment's runs after reduce_by_key: how many, and the first and last run's key and
/// aggregate (to join runs that cross a shard boundary).
template <class K, class V>
struct run_edges {
  std::size_t count;
  K first_key;
  V first_value;
  K last_key;
  V last_value;
};

/// Fills a run_edges from the outputs of one segment's reduce_by_key (count read from device
/// memory; at least one run).
template <class K, class V>
struct run_edges_fn {
  const K* keys;
  const V* values;
  const std::size_t* count;
  run_edges<K, V>* out;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t) const {
    const std::size_t c = *count;
    out->count = c;
    out->first_key = keys[0];
    out->first_value = values[0];
    out->last_key = keys[c - 1];
    out->last_value = values[c - 1];
  }
};

/// An element's value and global index.
template <class T>
struct indexed {
  T value;
  std::size_t index;
};

/// {p[i], offset + i}
template <class T>
struct indexed_fn {
  const T* p;
  std::size_t offset;
  SHARD_DETAIL_HOST_DEVICE indexed<T> operator()(std::size_t i) const { return indexed<T>{p[i], offset + i}; }
};

/// Keeps the first extremum: with `Max` false the first smallest element (comp(b, a) picks
/// b), with `Max` true the first largest (comp(a, b) picks b); ties go to the lower index, so
/// the operator is associative and commutative and any reduction order gives std::'s answer.
template <class Comp, bool Max>
struct extremum_op {
  Comp comp;
  template <class T>
  SHARD_DETAIL_HOST_DEVICE indexed<T> operator()(const indexed<T>& a, const indexed<T>& b) const {
    const bool b_better = Max ? comp(a.value, b.value) : comp(b.value, a.value);
    const bool a_better = Max ? comp(b.value, a.value) : comp(a.value, b.value);
    if (b_better) return b;
    if (a_better) return a;
    return b.index < a.index ? b : a;
  }
};

/// out[i] = blocks[i] op blocks[stride + i] op ... op blocks[(parts - 1) * stride + i]:
/// folds `parts` blocks element-wise, left to right (a fixed order).
template <class T, class Op>
struct fold_blocks_fn {
  const T* blocks;
  std::size_t stride;
  std::size_t parts;
  T* out;
  Op op;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const {
    T acc = blocks[i];
    for (std::size_t p = 1; p < parts; ++p) acc = static_cast<T>(op(acc, blocks[p * stride + i]));
    out[i] = acc;
  }
};

/// *out = init op p[0] op ... op p[upto-1] (shard order) over the present partials: the carry
/// a scan's shard starts from. `P` is T (every partial present) or maybe<T>.
template <class T, class P, class Op>
struct carry_fn {
  const P* partials;
  std::size_t upto;
  maybe<T> init;
  T* out;
  Op op;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t) const {
    maybe<T> acc = init;
    for (std::size_t p = 0; p < upto; ++p) {
      if constexpr (std::is_same_v<P, T>) {
        acc = maybe_op<Op>{op}(acc, maybe<T>{partials[p], true});
      } else {
        acc = maybe_op<Op>{op}(acc, partials[p]);
      }
    }
    *out = acc.value;
  }
};

}  // namespace detail
SHARD_DETAIL_DEVICE_CHECKS_END
SHARD_NAMESPACE_END
