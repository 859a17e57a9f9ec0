#pragma once
/// @file functional.hpp
/// Function objects usable on the host and on the device (transparent, like std::plus<>),
/// and the mapping of std::'s function objects onto them.
#include <shard/config.hpp>

#include <functional>
#include <type_traits>

SHARD_NAMESPACE_BEGIN

// Each function object comes as `name<T>` (operands converted to T) and `name<>` (transparent:
// the operands' own types, like std::plus<>). On a user type whose operator is __host__ only,
// using one of them in a CUDA translation unit is a compile error (config.hpp).
#define SHARD_DETAIL_BINARY_FUNCTION_OBJECT(name, result, expression)                           \
  template <class T = void>                                                                      \
  struct name {                                                                                  \
    SHARD_DETAIL_HOST_DEVICE constexpr result operator()(const T& a, const T& b) const { return expression; } \
  };                                                                                             \
  template <>                                                                                    \
  struct name<void> {                                                                            \
    template <class A, class B>                                                                  \
    SHARD_DETAIL_HOST_DEVICE constexpr auto operator()(const A& a, const B& b) const -> decltype(expression) { \
      return expression;                                                                         \
    }                                                                                            \
  };

SHARD_DETAIL_DEVICE_CHECKS_BEGIN

/// a + b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(plus, T, a + b)
/// a - b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(minus, T, a - b)
/// a * b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(multiplies, T, a * b)
/// The smaller of a and b; a when they are equivalent (like std::min).
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(minimum, T, b < a ? b : a)
/// The larger of a and b; a when they are equivalent (like std::max).
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(maximum, T, a < b ? b : a)
/// a < b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(less, bool, a < b)
/// a <= b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(less_equal, bool, a <= b)
/// a > b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(greater, bool, a > b)
/// a >= b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(greater_equal, bool, a >= b)
/// a == b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(equal_to, bool, a == b)
/// a != b
SHARD_DETAIL_BINARY_FUNCTION_OBJECT(not_equal_to, bool, a != b)

SHARD_DETAIL_DEVICE_CHECKS_END

#undef SHARD_DETAIL_BINARY_FUNCTION_OBJECT

namespace detail {

/// shard's equivalent of a std:: function object (std::plus<T> -> shard::plus<T>, ...), or
/// F itself. std::'s operator() is a __host__ function, which cannot run on a GPU; users
/// write std::plus<>{} and std::less<>{} all the time, so the algorithms take them and run
/// shard's instead (same result: both apply the same operator).
template <class F>
struct std_equivalent {
  using type = F;
};
#define SHARD_DETAIL_STD_EQUIVALENT(name)          \
  template <class T>                               \
  struct std_equivalent<std::name<T>> {            \
    using type = shard::name<T>;                   \
  };
SHARD_DETAIL_STD_EQUIVALENT(plus)
SHARD_DETAIL_STD_EQUIVALENT(minus)
SHARD_DETAIL_STD_EQUIVALENT(multiplies)
SHARD_DETAIL_STD_EQUIVALENT(less)
SHARD_DETAIL_STD_EQUIVALENT(less_equal)
SHARD_DETAIL_STD_EQUIVALENT(greater)
SHARD_DETAIL_STD_EQUIVALENT(greater_equal)
SHARD_DETAIL_STD_EQUIVALENT(equal_to)
SHARD_DETAIL_STD_EQUIVALENT(not_equal_to)
#undef SHARD_DETAIL_STD_EQUIVALENT

/// The function object the backends run for a caller's `f`: see std_equivalent. Every
/// algorithm passes its callables through here.
template <class F>
constexpr typename std_equivalent<F>::type callable(const F& f) {
#if defined(__NVCC__) && SHARD_HAS_CUDA && defined(__CUDACC_EXTENDED_LAMBDA__)
  // The host backend is compiled into every CUDA translation unit too (the context picks the
  // backend at run time), and nvcc does not diagnose host code that calls a __device__-only
  // function from a template: it would run garbage there.
  static_assert(!__nv_is_extended_device_lambda_closure_type(F),
                "shard: a __device__ lambda cannot run on the host backend, which every algorithm is also compiled "
                "for: write [] SHARD_HOST_DEVICE (...) { ... }");
#endif
  if constexpr (std::is_same_v<typename std_equivalent<F>::type, F>) return f;
  else return {};
}

/// The type callable() gives for F.
template <class F>
using callable_t = typename std_equivalent<F>::type;

}  // namespace detail

/// The first argument that asks reduce, transform_reduce (with plus over float or double) for
/// a reproducible sum: the correctly rounded sum of the values, bit for bit the same for any
/// number of shards, distribution, rank layout, backend and run (docs/reproducible.md).
struct reproducible_t {
  explicit reproducible_t() = default;
};
inline constexpr reproducible_t reproducible{};

SHARD_NAMESPACE_END
