#pragma once
/// @file core/exact_sum.hpp
/// Exact sums of floats and doubles (shard::reproducible, docs/reproducible.md). Every value
/// is split into integers deposited in bins indexed by its exponent: a float's 24-bit
/// significand goes whole into bin E (its biased exponent), a double's 53 bits as a low part
/// of 27 bits and a high part of 26 bits into two bins of E. A bin is a 64-bit integer and
/// integer addition is associative, so the bins of a segment are the same whatever the order
/// of its deposits (a GPU's atomics, the host's loop), and the bins of all shards add up to
/// the same total whatever the layout. The host adds every shard's bins into one big integer
/// (exact_total, 2304 bits: the doubles' whole range with room to spare) and rounds it once,
/// to nearest even: the result is the correctly rounded sum of the values. Non-finite values
/// and negative zeros are counted in bins of their own. A segment may hold up to 2^36 values
/// (a bin then stays below 2^63 in magnitude).
#include <shard/config.hpp>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Where one value goes: up to two (bin, integer) deposits.
struct exact_deposits {
  std::uint32_t bin[2];
  std::int64_t value[2];
  int count;
};

/// The most values one segment may deposit (every bin stays below 2^63 in magnitude).
inline constexpr std::uint64_t exact_segment_max = std::uint64_t{1} << 36;

/// The bins of one type; count bins in all. Bin b of the finite values stands for
/// value * 2^(position(b) - 1074); the last four count NaNs, +inf, -inf and -0.0.
template <class U>
struct exact_bins;

template <>
struct exact_bins<float> {
  static constexpr std::size_t values = 256;  // bin E = max(biased exponent, 1): significand * 2^(E - 150)
  static constexpr std::size_t nan = values, pos_inf = values + 1, neg_inf = values + 2, neg_zero = values + 3;
  static constexpr std::size_t count = values + 4;
  static constexpr int position(std::size_t b) { return static_cast<int>(b) - 150 + 1074; }
  SHARD_DETAIL_HOST_DEVICE static exact_deposits split(float x) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const bool neg = (bits >> 31) != 0;
    const std::uint32_t e = (bits >> 23) & 0xffu;
    const std::uint32_t frac = bits & 0x7fffffu;
    exact_deposits d{{0, 0}, {1, 0}, 1};
    if (e == 0xffu) {
      d.bin[0] = static_cast<std::uint32_t>(frac != 0 ? nan : neg ? neg_inf : pos_inf);
    } else {
      const std::int64_t m = e != 0 ? static_cast<std::int64_t>(frac | 0x800000u) : static_cast<std::int64_t>(frac);
      if (m == 0) {
        d.bin[0] = static_cast<std::uint32_t>(neg_zero);
        d.count = neg ? 1 : 0;
      } else {
        d.bin[0] = e != 0 ? e : 1u;
        d.value[0] = neg ? -m : m;
      }
    }
    return d;
  }
};

template <>
struct exact_bins<double> {
  // bin 2E + 0 = low 27 bits * 2^(E - 1075), bin 2E + 1 = high 26 bits * 2^(E - 1075 + 27),
  // E = max(biased exponent, 1)
  static constexpr std::size_t values = 4096;
  static constexpr std::size_t nan = values, pos_inf = values + 1, neg_inf = values + 2, neg_zero = values + 3;
  static constexpr std::size_t count = values + 4;
  static constexpr int position(std::size_t b) { return static_cast<int>(b / 2) - 1 + 27 * static_cast<int>(b % 2); }
  SHARD_DETAIL_HOST_DEVICE static exact_deposits split(double x) {
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const bool neg = (bits >> 63) != 0;
    const std::uint32_t e = static_cast<std::uint32_t>((bits >> 52) & 0x7ffu);
    const std::uint64_t frac = bits & ((std::uint64_t{1} << 52) - 1);
    exact_deposits d{{0, 0}, {1, 0}, 1};
    if (e == 0x7ffu) {
      d.bin[0] = static_cast<std::uint32_t>(frac != 0 ? nan : neg ? neg_inf : pos_inf);
    } else {
      const std::uint64_t m = e != 0 ? frac | (std::uint64_t{1} << 52) : frac;
      if (m == 0) {
        d.bin[0] = static_cast<std::uint32_t>(neg_zero);
        d.count = neg ? 1 : 0;
      } else {
        const std::uint32_t b = 2 * (e != 0 ? e : 1u);
        const auto lo = static_cast<std::int64_t>(m & ((std::uint64_t{1} << 27) - 1));
        const auto hi = static_cast<std::int64_t>(m >> 27);
        d.bin[0] = b;
        d.value[0] = neg ? -lo : lo;
        d.bin[1] = b + 1;
        d.value[1] = neg ? -hi : hi;
        d.count = 2;
      }
    }
    return d;
  }
};

template <class U>
inline constexpr bool exact_summable = std::is_same_v<U, float> || std::is_same_v<U, double>;

/// A sum of bins on the host: a 2304-bit two's-complement integer in units of 2^-1074, and
/// the counts of the special values. Exact for any number of bins of any segments.
class exact_total {
 public:
  static constexpr std::size_t limbs = 36;

  /// Adds v * 2^(position - 1074), 0 <= position < 64 * limbs - 128.
  void add(std::int64_t v, int position) noexcept {
    if (v == 0) return;
    const auto q = static_cast<std::size_t>(position) / 64;
    const unsigned s = static_cast<unsigned>(position) % 64;
    const std::uint64_t ext = v < 0 ? ~std::uint64_t{0} : 0;
    const auto u = static_cast<std::uint64_t>(v);
    const std::uint64_t lo = u << s;
    const std::uint64_t hi = s == 0 ? ext : (u >> (64 - s)) | (ext << s);
    std::uint64_t carry = 0;
    for (std::size_t j = q; j < limbs; ++j) {
      const std::uint64_t addend = j == q ? lo : j == q + 1 ? hi : ext;
      if (j > q + 1 && addend == 0 && carry == 0) break;
      const std::uint64_t t = w_[j] + addend;
      const std::uint64_t c1 = t < addend ? 1 : 0;
      const std::uint64_t t2 = t + carry;
      const std::uint64_t c2 = t2 < t ? 1 : 0;
      w_[j] = t2;
      carry = c1 | c2;
    }
  }

  /// Adds one shard's bins (count of them, laid out as exact_bins<U>).
  template <class U>
  void add_bins(const std::int64_t* bins) noexcept {
    using B = exact_bins<U>;
    for (std::size_t b = 0; b < B::values; ++b) add(bins[b], B::position(b));
    nan_ += static_cast<std::uint64_t>(bins[B::nan]);
    pos_inf_ += static_cast<std::uint64_t>(bins[B::pos_inf]);
    neg_inf_ += static_cast<std::uint64_t>(bins[B::neg_inf]);
    neg_zero_ += static_cast<std::uint64_t>(bins[B::neg_zero]);
  }

  /// Adds one value.
  template <class U>
  void add_value(U x) noexcept {
    std::int64_t bins[exact_bins<U>::count] = {};
    const auto d = exact_bins<U>::split(x);
    for (int k = 0; k < d.count; ++k) bins[d.bin[k]] += d.value[k];
    add_bins<U>(bins);
  }

  /// The sum of `values` values, rounded to the nearest U (ties to even): NaN when there is a
  /// NaN or both infinities, an infinity when there is one, -0.0 when every value was -0.0.
  template <class U>
  U round(std::uint64_t values) const noexcept {
    using L = std::numeric_limits<U>;
    if (nan_ != 0 || (pos_inf_ != 0 && neg_inf_ != 0)) return L::quiet_NaN();
    if (pos_inf_ != 0) return L::infinity();
    if (neg_inf_ != 0) return -L::infinity();
    std::uint64_t m[limbs];
    for (std::size_t j = 0; j < limbs; ++j) m[j] = w_[j];
    const bool negative = (m[limbs - 1] >> 63) != 0;
    if (negative) {  // two's complement: invert and add one
      std::uint64_t carry = 1;
      for (std::size_t j = 0; j < limbs; ++j) {
        m[j] = ~m[j] + carry;
        carry = carry != 0 && m[j] == 0 ? 1 : 0;
      }
    }
    int h = -1;  // the highest set bit
    for (std::size_t j = limbs; j-- > 0;)
      if (m[j] != 0) {
        h = static_cast<int>(64 * j) + 63 - std::countl_zero(m[j]);
        break;
      }
    if (h < 0) return neg_zero_ == values ? -U(0) : U(0);
    constexpr int digits = L::digits;
    constexpr int lowest = L::min_exponent - digits + 1074;  // the bit of U's smallest subnormal
    const int q = h - digits + 1 > lowest ? h - digits + 1 : lowest;
    std::uint64_t r = 0;
    if (h >= q) r = window(m, q) & ((std::uint64_t{1} << (h - q + 1)) - 1);
    if (q > 0 && bit(m, q - 1) && ((r & 1) != 0 || any_below(m, q - 1))) ++r;
    const U out = std::ldexp(static_cast<U>(r), q - 1074);
    return negative ? -out : out;
  }

 private:
  static std::uint64_t window(const std::uint64_t* m, int pos) noexcept {  // 64 bits from pos
    const auto i = static_cast<std::size_t>(pos) / 64;
    const unsigned s = static_cast<unsigned>(pos) % 64;
    std::uint64_t v = i < limbs ? m[i] >> s : 0;
    if (s != 0 && i + 1 < limbs) v |= m[i + 1] << (64 - s);
    return v;
  }
  static bool bit(const std::uint64_t* m, int pos) noexcept {
    return ((m[static_cast<std::size_t>(pos) / 64] >> (static_cast<unsigned>(pos) % 64)) & 1) != 0;
  }
  static bool any_below(const std::uint64_t* m, int pos) noexcept {  // a set bit below pos
    const auto i = static_cast<std::size_t>(pos) / 64;
    const unsigned s = static_cast<unsigned>(pos) % 64;
    for (std::size_t j = 0; j < i; ++j)
      if (m[j] != 0) return true;
    return s != 0 && (m[i] & ((std::uint64_t{1} << s) - 1)) != 0;
  }

  std::uint64_t w_[limbs] = {};
  std::uint64_t nan_ = 0, pos_inf_ = 0, neg_inf_ = 0, neg_zero_ = 0;
};

}  // namespace detail
SHARD_NAMESPACE_END
