#pragma once
/// @file backend/host/gpu_order.hpp
/// The orders a GPU's CUB calls may use, emulated on the host for host_options::cuda_semantics
/// (docs/testing.md lists them). Each is deterministic, so a failing case repeats, and each is
/// a freedom the CUB counterpart documents, so code that passes under it does not lean on the
/// host's sequential order:
/// - permuted_reduce (cub::DeviceReduce, which "does not support non-commutative operators"):
///   elements striped over `gpu_lanes` lanes, each lane folding its elements with the new
///   operand on the left, the lanes combined last lane first, init applied last on the right.
///   An operator that is associative but not commutative gives a different answer; a
///   floating-point sum associates differently from the host's blocked order.
/// - tiled_inclusive_scan / tiled_exclusive_scan (cub::DeviceScan, which supports
///   non-commutative operators but, through decoupled look-back, associates per tile): each
///   tile of `gpu_tile` elements is scanned from its own first element, then combined with the
///   running prefix of the tiles before it. Exact for associative operators; floating-point
///   results differ from a left-to-right scan.
/// - tiled_run_fold (cub's reduce-by-key, a scan by key): a run's values folded per tile, the
///   tiles' parts then combined in order.
#include <shard/config.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

/// Lanes of the emulated reduction (threads of a block, striped loads).
inline constexpr std::size_t gpu_lanes = 8;
/// Elements of one emulated scan tile (prime, so tiles straddle every other structure).
inline constexpr std::size_t gpu_tile = 37;

/// init op' (the n values get(0..n-1) combined in the permuted, commuted order above).
template <class U, class Op, class Get>
U permuted_reduce(std::size_t n, U init, Op op, Get get) {
  if (n == 0) return init;
  const std::size_t lanes = n < gpu_lanes ? n : gpu_lanes;
  std::vector<U> lane;
  lane.reserve(lanes);
  for (std::size_t j = 0; j < lanes; ++j) {
    U acc = static_cast<U>(get(j));
    for (std::size_t i = j + lanes; i < n; i += lanes) acc = static_cast<U>(op(static_cast<U>(get(i)), acc));
    lane.push_back(acc);
  }
  U acc = lane[lanes - 1];
  for (std::size_t j = lanes - 1; j-- > 0;) acc = static_cast<U>(op(acc, lane[j]));
  return static_cast<U>(op(acc, init));
}

/// out[i] = carry op in[0] op ... op in[i] (no carry when null), associated per tile. `in`
/// may equal `out`.
template <class T, class Op>
void tiled_inclusive_scan(const T* in, T* out, std::size_t n, Op op, const T* carry) {
  std::vector<T> tile;
  bool has_prefix = carry != nullptr;
  T prefix = has_prefix ? *carry : T{};
  for (std::size_t start = 0; start < n; start += gpu_tile) {
    const std::size_t end = start + gpu_tile < n ? start + gpu_tile : n;
    tile.assign(in + start, in + end);
    T local = tile[0];
    for (std::size_t i = start; i < end; ++i) {
      if (i != start) local = static_cast<T>(op(local, tile[i - start]));
      out[i] = has_prefix ? static_cast<T>(op(prefix, local)) : local;
    }
    prefix = has_prefix ? static_cast<T>(op(prefix, local)) : local;  // the tile's inclusive prefix
    has_prefix = true;
  }
}

/// out[0] = *init, out[i] = *init op in[0] op ... op in[i-1], associated per tile. `in` may
/// equal `out`.
template <class T, class Op>
void tiled_exclusive_scan(const T* in, T* out, std::size_t n, Op op, const T& init) {
  std::vector<T> tile;
  T prefix = init;
  for (std::size_t start = 0; start < n; start += gpu_tile) {
    const std::size_t end = start + gpu_tile < n ? start + gpu_tile : n;
    tile.assign(in + start, in + end);
    out[start] = prefix;
    T local = tile[0];
    for (std::size_t i = start + 1; i < end; ++i) {
      out[i] = static_cast<T>(op(prefix, local));
      local = static_cast<T>(op(local, tile[i - start]));
    }
    prefix = static_cast<T>(op(prefix, local));
  }
}

/// Folds values[first, last) (one run) in order, per tile of the global index: the parts of
/// the tiles the run spans are folded left to right, then combined.
template <class V, class Op>
V tiled_run_fold(const V* values, std::size_t first, std::size_t last, Op op) {
  V done = values[first];
  bool has_done = false;
  V part = values[first];
  for (std::size_t i = first + 1; i < last; ++i) {
    if (i % gpu_tile == 0) {
      done = has_done ? static_cast<V>(op(done, part)) : part;
      has_done = true;
      part = values[i];
    } else {
      part = static_cast<V>(op(part, values[i]));
    }
  }
  return has_done ? static_cast<V>(op(done, part)) : part;
}

}  // namespace host_backend
SHARD_NAMESPACE_END
