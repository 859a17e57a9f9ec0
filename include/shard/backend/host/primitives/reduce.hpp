#pragma once
/// @file backend/host/primitives/reduce.hpp
/// The host backend's "reduce" family (primitive/reduce.hpp). Addition over an
/// arithmetic type runs in a fixed blocked order that the compiler can vectorise (a strict
/// left-to-right fold of floats cannot be): `lanes` running sums, lane j adding elements
/// j, j + lanes, j + 2 lanes, ... of the whole blocks; then init + lane 0 + lane 1 + ... + lane
/// (lanes-1), then the leftover tail left to right. Every other operator folds left to right.
/// Both orders are fixed, so results repeat exactly (docs/design.md). Under
/// host_options::cuda_semantics every operator combines in cub::DeviceReduce's freedom instead
/// (permuted_reduce: permuted and commuted). reduce_in_order keeps the operands' order
/// (left to right; per tile under cuda_semantics, as CUB's scan that computes it on a GPU).
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/backend/host/gpu_order.hpp>
#include <shard/core/exact_sum.hpp>
#include <shard/core/functors.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

/// Number of running sums of the blocked order (16 floats: two AVX registers of 8, enough
/// independent additions to hide the adder's latency).
inline constexpr std::size_t reduce_lanes = 16;

/// init + the blocked-order sum of in[0, n) (see the file comment).
template <class T>
T blocked_sum(const T* in, std::size_t n, T init) {
  T lane[reduce_lanes] = {};
  const std::size_t whole = n - n % reduce_lanes;
  for (std::size_t i = 0; i < whole; i += reduce_lanes)
    for (std::size_t j = 0; j < reduce_lanes; ++j) lane[j] = static_cast<T>(lane[j] + in[i + j]);
  T acc = init;
  if (whole != 0)
    for (std::size_t j = 0; j < reduce_lanes; ++j) acc = static_cast<T>(acc + lane[j]);
  for (std::size_t i = whole; i < n; ++i) acc = static_cast<T>(acc + in[i]);
  return acc;
}

template <class T, class Op>
void reduce(device& d, const T* in, std::size_t n, T* out, T init, Op op) {
  if (d.cuda_semantics()) {
    d.launch([=] { *out = permuted_reduce<T>(n, init, op, [in](std::size_t i) { return in[i]; }); });
    return;
  }
  d.launch([=] {
    if constexpr (detail::is_arithmetic_plus<Op, T>) {
      *out = blocked_sum(in, n, init);
    } else {
      T acc = init;
      for (std::size_t i = 0; i < n; ++i) acc = op(acc, in[i]);
      *out = acc;
    }
  });
}

template <class U, class Rop, class F>
void transform_reduce_index(device& d, std::size_t n, U* out, U init, Rop rop, F f) {
  if (d.cuda_semantics()) {
    d.launch([=] { *out = permuted_reduce<U>(n, init, rop, f); });
    return;
  }
  d.launch([=] {
    U acc = init;
    for (std::size_t i = 0; i < n; ++i) acc = rop(acc, f(i));
    *out = acc;
  });
}

/// The bins (core/exact_sum.hpp) of f(0), ..., f(n-1) into out[0, exact_bins<U>::count),
/// U = f's result, n <= exact_segment_max. Integer sums: any order gives the same bins; four
/// interleaved sets of bins keep consecutive deposits into one bin from waiting on each other.
template <class F>
void sum_exactly(device& d, std::size_t n, F f, std::int64_t* out) {
  using U = std::decay_t<decltype(f(std::size_t{0}))>;
  using B = detail::exact_bins<U>;
  d.launch([=] {
    constexpr std::size_t sets = 4;
    std::vector<std::int64_t> bins(sets * B::count, 0);
    std::int64_t* b = bins.data();
    const auto deposit = [](std::int64_t* into, U x) {
      const auto dep = B::split(x);
      for (int k = 0; k < dep.count; ++k) into[dep.bin[k]] += dep.value[k];
    };
    std::size_t i = 0;
    for (; i + sets <= n; i += sets)
      for (std::size_t j = 0; j < sets; ++j) deposit(b + j * B::count, f(i + j));
    for (; i < n; ++i) deposit(b, f(i));
    for (std::size_t k = 0; k < B::count; ++k) {
      std::int64_t sum = 0;
      for (std::size_t j = 0; j < sets; ++j) sum += b[j * B::count + k];
      out[k] = sum;
    }
  });
}

/// store(in[0] op in[1] op ... op in[n-1]), n >= 1, the operands in order.
template <class T, class Op, class Store>
void reduce_in_order(device& d, const T* in, std::size_t n, Op op, Store store) {
  const bool gpu = d.cuda_semantics();
  d.launch([=] {
    if (gpu) {
      store(tiled_run_fold(in, 0, n, op));
      return;
    }
    T acc = in[0];
    for (std::size_t i = 1; i < n; ++i) acc = static_cast<T>(op(acc, in[i]));
    store(acc);
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
