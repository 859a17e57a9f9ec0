#pragma once
/// @file functional.hpp
/// Function objects usable on the host and on the device (transparent, like std::plus<>).
#include <shard/config.hpp>

#include <utility>

SHARD_NAMESPACE_BEGIN

/// a + b
template <class T = void>
struct plus {
  SHARD_HOST_DEVICE constexpr T operator()(const T& a, const T& b) const { return a + b; }
};
template <>
struct plus<void> {
  SHARD_DETAIL_EXEC_CHECK_DISABLE
  template <class A, class B>
  SHARD_HOST_DEVICE constexpr auto operator()(const A& a, const B& b) const -> decltype(a + b) {
    return a + b;
  }
};

/// The smaller of a and b; a when they are equivalent (like std::min).
template <class T = void>
struct minimum {
  SHARD_HOST_DEVICE constexpr T operator()(const T& a, const T& b) const { return b < a ? b : a; }
};
template <>
struct minimum<void> {
  SHARD_DETAIL_EXEC_CHECK_DISABLE
  template <class A, class B>
  SHARD_HOST_DEVICE constexpr auto operator()(const A& a, const B& b) const -> decltype(b < a ? b : a) {
    return b < a ? b : a;
  }
};

/// The larger of a and b; a when they are equivalent (like std::max).
template <class T = void>
struct maximum {
  SHARD_HOST_DEVICE constexpr T operator()(const T& a, const T& b) const { return a < b ? b : a; }
};
template <>
struct maximum<void> {
  SHARD_DETAIL_EXEC_CHECK_DISABLE
  template <class A, class B>
  SHARD_HOST_DEVICE constexpr auto operator()(const A& a, const B& b) const -> decltype(a < b ? b : a) {
    return a < b ? b : a;
  }
};

/// a < b
template <class T = void>
struct less {
  SHARD_HOST_DEVICE constexpr bool operator()(const T& a, const T& b) const { return a < b; }
};
template <>
struct less<void> {
  SHARD_DETAIL_EXEC_CHECK_DISABLE
  template <class A, class B>
  SHARD_HOST_DEVICE constexpr bool operator()(const A& a, const B& b) const {
    return a < b;
  }
};

/// a > b
template <class T = void>
struct greater {
  SHARD_HOST_DEVICE constexpr bool operator()(const T& a, const T& b) const { return a > b; }
};
template <>
struct greater<void> {
  SHARD_DETAIL_EXEC_CHECK_DISABLE
  template <class A, class B>
  SHARD_HOST_DEVICE constexpr bool operator()(const A& a, const B& b) const {
    return a > b;
  }
};

/// a == b
template <class T = void>
struct equal_to {
  SHARD_HOST_DEVICE constexpr bool operator()(const T& a, const T& b) const { return a == b; }
};
template <>
struct equal_to<void> {
  SHARD_DETAIL_EXEC_CHECK_DISABLE
  template <class A, class B>
  SHARD_HOST_DEVICE constexpr bool operator()(const A& a, const B& b) const {
    return a == b;
  }
};

SHARD_NAMESPACE_END
