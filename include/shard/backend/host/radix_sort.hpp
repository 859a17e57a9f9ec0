#pragma once
/// @file backend/host/radix_sort.hpp
/// The host backend's sort for arithmetic keys ordered by less or greater: a stable LSD radix
/// sort with 8-bit digits, as CUB sorts them on a GPU, that skips the digits every key
/// shares. Keys map to unsigned integers whose order is the keys' order: signed integers flip
/// the sign bit, floating-point numbers flip the sign bit of positive values and every bit
/// of negative ones, and -0.0 maps like +0.0 (the two are equivalent under less, so a stable
/// sort keeps their input order, as CUB's radix sort does). NaNs with the sign bit clear go
/// after +inf, those with it set before -inf (std::sort leaves NaN's place undefined).
#include <shard/config.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace host_backend {
namespace radix {

template <class K>
using bits_t = std::conditional_t<sizeof(K) == 1, std::uint8_t,
                                  std::conditional_t<sizeof(K) == 2, std::uint16_t,
                                                     std::conditional_t<sizeof(K) == 4, std::uint32_t, std::uint64_t>>>;

/// The unsigned image of a key, ascending in the key's order (descending: reversed).
template <class K, bool Descending>
bits_t<K> to_bits(K key) {
  using U = bits_t<K>;
  static_assert(sizeof(U) == sizeof(K));
  constexpr U sign = U(U(1) << (sizeof(U) * 8 - 1));
  U b;
  if constexpr (std::is_floating_point_v<K>) {
    if (key == K(0)) key = K(0);  // -0.0 sorts as +0.0
    std::memcpy(&b, &key, sizeof b);
    b = (b & sign) ? U(~b) : U(b | sign);
  } else if constexpr (std::is_same_v<K, bool>) {
    b = key ? 1 : 0;
  } else {
    std::memcpy(&b, &key, sizeof b);
    if constexpr (std::is_signed_v<K>) b = U(b ^ sign);
  }
  return Descending ? U(~b) : b;
}

/// The key of an unsigned image (inverse of to_bits; integers only: the floating-point map
/// is not one to one at zero, so floating-point keys travel with their images instead).
template <class K, bool Descending>
K from_bits(bits_t<K> b) {
  using U = bits_t<K>;
  constexpr U sign = U(U(1) << (sizeof(U) * 8 - 1));
  if (Descending) b = U(~b);
  if constexpr (std::is_signed_v<K> && !std::is_same_v<K, bool>) b = U(b ^ sign);
  K key;
  std::memcpy(&key, &b, sizeof key);
  return key;
}

/// Stable sort of keys[0, n) (and values[0, n) alongside when V is not void), in place;
/// about 2n keys (and 2n indices with values) of scratch memory.
template <bool Descending, class K, class V>
void sort(K* keys, V* values, std::size_t n) {
  using U = bits_t<K>;
  constexpr bool pairs = !std::is_void_v<V>;
  constexpr bool carry_keys = !pairs && std::is_floating_point_v<K>;  // see from_bits
  constexpr std::size_t digits = sizeof(K);
  std::vector<U> bits(n), bits_tmp(n);
  for (std::size_t i = 0; i < n; ++i) bits[i] = to_bits<K, Descending>(keys[i]);
  std::vector<std::array<std::size_t, 256>> count(digits);
  for (auto& c : count) c.fill(0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < digits; ++d) ++count[d][(bits[i] >> (8 * d)) & 0xff];
  // What travels with the images: the permutation (pairs), the keys (floating point), or
  // nothing (integer keys are mapped back from their images).
  using payload_t = std::conditional_t<pairs, std::uint64_t, K>;
  std::vector<payload_t> load, load_tmp;
  if constexpr (pairs || carry_keys) {
    load.resize(n);
    load_tmp.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (pairs) load[i] = i;
      else load[i] = keys[i];
    }
  }
  for (std::size_t d = 0; d < digits; ++d) {
    const auto& c = count[d];
    if (std::any_of(c.begin(), c.end(), [&](std::size_t x) { return x == n; })) continue;  // every key shares it
    std::size_t offset[256];
    std::size_t sum = 0;
    for (std::size_t b = 0; b < 256; ++b) offset[b] = sum, sum += c[b];
    const unsigned shift = static_cast<unsigned>(8 * d);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = offset[(bits[i] >> shift) & 0xff]++;
      bits_tmp[at] = bits[i];
      if constexpr (pairs || carry_keys) load_tmp[at] = load[i];
    }
    bits.swap(bits_tmp);
    if constexpr (pairs || carry_keys) load.swap(load_tmp);
  }
  if constexpr (pairs) {
    std::vector<K> k(keys, keys + n);
    std::vector<V> v(values, values + n);
    for (std::size_t i = 0; i < n; ++i) {
      keys[i] = k[load[i]];
      values[i] = v[load[i]];
    }
  } else if constexpr (carry_keys) {
    std::copy(load.begin(), load.end(), keys);
  } else {
    for (std::size_t i = 0; i < n; ++i) keys[i] = from_bits<K, Descending>(bits[i]);
  }
}

}  // namespace radix
}  // namespace host_backend
SHARD_NAMESPACE_END
