#pragma once
/// @file core/fixed_sum.hpp
/// Reproducible scans (shard::reproducible, docs/reproducible.md): every value is rounded once
/// to one fixed-point grid, 2^g, chosen from the largest magnitude of the whole sequence and
/// its length, so that any sum of the rounded values fits a 192-bit integer; the scan adds
/// those integers (associative: the same prefixes for any layout and any order of CUB's
/// scan), and every prefix is rounded once to the nearest float or double. A value whose low
/// bits lie below the grid loses them (rounded to nearest, ties to even), the same way on
/// every layout; when the magnitudes span less than about 2^(137 - log2 n) for doubles (2^(166
/// - log2 n) for floats) no value has such bits and every prefix is the correctly rounded
/// prefix sum. Device-callable throughout.
#include <shard/config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Flags of the special values a prefix holds (OR-ed along the scan).
inline constexpr std::uint32_t fixed_nan = 1, fixed_pos_inf = 2, fixed_neg_inf = 4, fixed_not_neg_zero = 8;

/// A 192-bit two's-complement integer (the multiple of the grid) and the flags.
struct fixed_sum {
  std::uint64_t w[3];
  std::uint32_t flags;
};

/// Addition of fixed_sums: integers modulo 2^192 (exact: the grid leaves room), flags OR-ed.
struct fixed_plus {
  SHARD_DETAIL_HOST_DEVICE fixed_sum operator()(const fixed_sum& a, const fixed_sum& b) const {
    fixed_sum r;
    r.w[0] = a.w[0] + b.w[0];
    const std::uint64_t c0 = r.w[0] < a.w[0] ? 1 : 0;
    const std::uint64_t t = a.w[1] + b.w[1];
    const std::uint64_t c1 = t < a.w[1] ? 1 : 0;
    r.w[1] = t + c0;
    const std::uint64_t c2 = c1 | (r.w[1] < t ? 1 : 0);
    r.w[2] = a.w[2] + b.w[2] + c2;
    r.flags = a.flags | b.flags;
    return r;
  }
};

/// A value as sign, integer significand m (< 2^53) and exponent k (x = +-m * 2^k), or a special.
struct fixed_parts {
  std::uint64_t m;
  int k;
  bool negative;
  std::uint32_t special;  // fixed_nan, fixed_pos_inf or fixed_neg_inf; 0 when finite
};

template <class U>
SHARD_DETAIL_HOST_DEVICE fixed_parts parts_of(U x) {
  static_assert(std::is_same_v<U, float> || std::is_same_v<U, double>);
  if constexpr (std::is_same_v<U, float>) {
    std::uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    const bool neg = (b >> 31) != 0;
    const std::uint32_t e = (b >> 23) & 0xffu, frac = b & 0x7fffffu;
    if (e == 0xffu) return {0, 0, neg, frac != 0 ? fixed_nan : neg ? fixed_neg_inf : fixed_pos_inf};
    return {e != 0 ? (frac | 0x800000u) : frac, static_cast<int>(e != 0 ? e : 1) - 150, neg, 0};
  } else {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    const bool neg = (b >> 63) != 0;
    const auto e = static_cast<std::uint32_t>((b >> 52) & 0x7ffu);
    const std::uint64_t frac = b & ((std::uint64_t{1} << 52) - 1);
    if (e == 0x7ffu) return {0, 0, neg, frac != 0 ? fixed_nan : neg ? fixed_neg_inf : fixed_pos_inf};
    return {e != 0 ? (frac | (std::uint64_t{1} << 52)) : frac, static_cast<int>(e != 0 ? e : 1) - 1075, neg, 0};
  }
}

/// The index of the highest set bit of v != 0.
SHARD_DETAIL_HOST_DEVICE inline int top_bit(std::uint64_t v) {
  int h = 0;
  for (int step = 32; step > 0; step /= 2)
    if ((v >> step) != 0) v >>= step, h += step;
  return h;
}

/// The magnitudes of a sequence: the smallest e with |x| < 2^e over its finite nonzero values
/// (fixed_range_none when there is none), and its flags.
inline constexpr int fixed_range_none = -(1 << 30);
struct fixed_range {
  int top;
  std::uint32_t flags;
};
struct fixed_range_op {
  SHARD_DETAIL_HOST_DEVICE fixed_range operator()(const fixed_range& a, const fixed_range& b) const {
    return {a.top > b.top ? a.top : b.top, a.flags | b.flags};
  }
};
template <class U>
SHARD_DETAIL_HOST_DEVICE fixed_range range_of(U x) {
  const auto p = parts_of(x);
  if (p.special != 0) return {fixed_range_none, p.special | fixed_not_neg_zero};
  if (p.m == 0) return {fixed_range_none, p.negative ? 0u : fixed_not_neg_zero};
  return {p.k + top_bit(p.m) + 1, fixed_not_neg_zero};
}
/// range_of(p[i]).
template <class U>
struct range_fn {
  const U* p;
  SHARD_DETAIL_HOST_DEVICE fixed_range operator()(std::size_t i) const { return range_of(p[i]); }
};

/// The grid exponent for a sequence of `values` values (init included) whose largest
/// magnitude is below 2^top: every rounded value is at most 2^(190 - L) grid units, L the bit
/// length of values + 1, so any sum of them stays below 2^190.
inline int fixed_grid(int top, std::uint64_t values) {
  int bits = 0;
  for (std::uint64_t v = values + 1; v != 0; v >>= 1) ++bits;
  return top == fixed_range_none ? 0 : top - 190 + bits;
}

/// x rounded to the nearest multiple of 2^g (ties to even), as a fixed_sum.
template <class U>
SHARD_DETAIL_HOST_DEVICE fixed_sum to_fixed(U x, int g) {
  fixed_sum f{{0, 0, 0}, 0};
  const auto p = parts_of(x);
  if (p.special != 0) {
    f.flags = p.special | fixed_not_neg_zero;
    return f;
  }
  if (!(p.negative && p.m == 0)) f.flags = fixed_not_neg_zero;
  if (p.m == 0) return f;
  const int s = p.k - g;
  if (s >= 0) {
    const int limb = s / 64, off = s % 64;
    f.w[limb] = p.m << off;
    if (off != 0 && limb + 1 < 3) f.w[limb + 1] = p.m >> (64 - off);
  } else {
    const int r = -s;
    if (r < 64) {
      std::uint64_t q = p.m >> r;
      const std::uint64_t rem = p.m & ((std::uint64_t{1} << r) - 1), half = std::uint64_t{1} << (r - 1);
      if (rem > half || (rem == half && (q & 1) != 0)) ++q;
      f.w[0] = q;
    }
  }
  if (p.negative) {  // two's complement
    f.w[0] = ~f.w[0] + 1;
    const std::uint64_t c0 = f.w[0] == 0 ? 1 : 0;
    f.w[1] = ~f.w[1] + c0;
    const std::uint64_t c1 = c0 != 0 && f.w[1] == 0 ? 1 : 0;
    f.w[2] = ~f.w[2] + c1;
  }
  return f;
}

/// 2^e as U, for e from U's smallest subnormal exponent up; infinity above its range.
template <class U>
SHARD_DETAIL_HOST_DEVICE U power_of_two(int e) {
  if constexpr (std::is_same_v<U, float>) {
    const std::uint32_t b = e > 127 ? 0x7f800000u : e >= -126 ? static_cast<std::uint32_t>(e + 127) << 23
                                                             : std::uint32_t{1} << (e + 149);
    float out;
    std::memcpy(&out, &b, sizeof out);
    return out;
  } else {
    const std::uint64_t b = e > 1023 ? std::uint64_t{0x7ff} << 52 : e >= -1022 ? static_cast<std::uint64_t>(e + 1023) << 52
                                                                              : std::uint64_t{1} << (e + 1074);
    double out;
    std::memcpy(&out, &b, sizeof out);
    return out;
  }
}

/// The fixed_sum's value (its integer times 2^g) rounded to the nearest U, ties to even; NaN,
/// an infinity or -0.0 as its flags say.
template <class U>
SHARD_DETAIL_HOST_DEVICE U from_fixed(const fixed_sum& f, int g) {
  constexpr bool is_float = std::is_same_v<U, float>;
  if ((f.flags & fixed_nan) != 0 || (f.flags & (fixed_pos_inf | fixed_neg_inf)) == (fixed_pos_inf | fixed_neg_inf)) {
    if constexpr (is_float) {
      const std::uint32_t b = 0x7fc00000u;
      float out;
      std::memcpy(&out, &b, sizeof out);
      return out;
    } else {
      const std::uint64_t b = std::uint64_t{0x7ff8} << 48;
      double out;
      std::memcpy(&out, &b, sizeof out);
      return out;
    }
  }
  if ((f.flags & fixed_pos_inf) != 0) return power_of_two<U>(100000);
  if ((f.flags & fixed_neg_inf) != 0) return -power_of_two<U>(100000);
  std::uint64_t m[3] = {f.w[0], f.w[1], f.w[2]};
  const bool negative = (m[2] >> 63) != 0;
  if (negative) {
    m[0] = ~m[0] + 1;
    const std::uint64_t c0 = m[0] == 0 ? 1 : 0;
    m[1] = ~m[1] + c0;
    const std::uint64_t c1 = c0 != 0 && m[1] == 0 ? 1 : 0;
    m[2] = ~m[2] + c1;
  }
  int h = -1;
  for (int j = 2; j >= 0 && h < 0; --j)
    if (m[j] != 0) h = 64 * j + top_bit(m[j]);
  if (h < 0) return (f.flags & fixed_not_neg_zero) != 0 ? U(0) : -U(0);
  constexpr int digits = is_float ? 24 : 53;
  constexpr int lowest = is_float ? -149 : -1074;  // the exponent of U's smallest subnormal
  const int q = h - digits + 1 > lowest - g ? h - digits + 1 : lowest - g;
  U out;
  if (q <= 0) {
    out = static_cast<U>(m[0]) * power_of_two<U>(g);  // exact: at most `digits` bits
  } else {
    const auto bit = [&](int pos) { return ((m[pos / 64] >> (pos % 64)) & 1) != 0; };
    std::uint64_t r = 0;
    if (h >= q) {
      const int i = q / 64, s = q % 64;
      std::uint64_t v = m[i] >> s;
      if (s != 0 && i + 1 < 3) v |= m[i + 1] << (64 - s);
      r = v & ((std::uint64_t{1} << (h - q + 1)) - 1);
    }
    if (bit(q - 1)) {
      bool sticky = (r & 1) != 0;
      for (int j = 0; j < 3 && !sticky; ++j) {
        const int lo = 64 * j, below = q - 1;  // bits [lo, min(lo + 64, below))
        if (below <= lo) break;
        const std::uint64_t mask = below - lo >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << (below - lo)) - 1;
        sticky = (m[j] & mask) != 0;
      }
      if (sticky) ++r;
    }
    // r has at most digits + 1 bits and q + g >= lowest: exact, or an overflow to infinity
    // (r >= 1 whenever 2^(q + g) is out of range).
    out = static_cast<U>(r) * power_of_two<U>(q + g);
  }
  return negative ? -out : out;
}

/// to_fixed(in[i], g) into out[i].
template <class U>
struct to_fixed_fn {
  const U* in;
  fixed_sum* out;
  int g;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const { out[i] = to_fixed(in[i], g); }
};

/// from_fixed(in[i], g) into out[i].
template <class U>
struct from_fixed_fn {
  const fixed_sum* in;
  U* out;
  int g;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const { out[i] = from_fixed<U>(in[i], g); }
};

}  // namespace detail
SHARD_NAMESPACE_END
