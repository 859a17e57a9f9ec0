#pragma once
/// @file copy.hpp
/// shard::copy between vectors (any two distributions) and between host memory and vectors.
#include <shard/config.hpp>
#include <shard/core/plan.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/transport/copy.hpp>
#include <shard/transport/host.hpp>
#include <shard/vector.hpp>

#include <algorithm>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// dst[i] = src[i]. The vectors may have different distributions: elements that stay on
/// their shard are copied locally, the others move shard to shard, exactly once each. Throws
/// invalid_argument when the sizes differ or the contexts do.
template <class T>
void copy(const vector<T>& src, vector<T>& dst) {
  detail::require_same_context("shard::copy", src, dst);
  detail::require_same_size("shard::copy", "the destination", dst.size(), "the source", src.size());
  const detail::call_scope scope(dst.get_context().impl(), "shard::copy", dst);
  if (&src == &dst) return;
  auto& ctx = dst.get_context().impl();
  const auto plan = detail::plan_redistribution(src.segment_sizes(), dst.segment_sizes(), src.size());
  detail::run_and_wait(ctx, [&] { transport::exchange(ctx, plan, detail::pointers(src), detail::pointers(dst)); });
}

/// Host memory -> vector (the sizes must match), all shards at once; one host sync.
template <class T>
void copy(std::type_identity_t<std::span<const T>> src, vector<T>& dst) {
  detail::require_same_size("shard::copy", "the destination", dst.size(), "the host source", src.size());
  const detail::call_scope scope(dst.get_context().impl(), "shard::copy", dst);
  transport::host_transfer(dst.get_context().impl(), detail::host_blocks(dst, const_cast<T*>(src.data())),
                           transport::host_direction::from_host);
}

/// Host memory -> dst[first, first + src.size()): only the shards that hold those elements
/// receive bytes; one host sync. What failover reads again from its source (salvage's lost
/// ranges). In an SPMD context every rank passes the same `src`, and each writes its own
/// shards' part. Throws invalid_argument when the range passes dst's end.
template <class T>
void copy(std::type_identity_t<std::span<const T>> src, vector<T>& dst, std::size_t first) {
  if (first > dst.size() || src.size() > dst.size() - first)
    throw invalid_argument("shard::copy: elements [" + std::to_string(first) + ", " + std::to_string(first + src.size()) +
                           ") pass the end of the destination (size " + std::to_string(dst.size()) + ")");
  const detail::call_scope scope(dst.get_context().impl(), "shard::copy", dst);
  auto& ctx = dst.get_context().impl();
  std::vector<transport::host_block> blocks;
  const std::size_t last = first + src.size();
  for (auto s : ctx.local_shards()) {
    const auto seg = dst.segment(s);
    const std::size_t lo = std::max(first, seg.offset), hi = std::min(last, seg.offset + seg.size);
    if (lo >= hi) continue;
    blocks.push_back({s, const_cast<T*>(src.data() + (lo - first)), seg.data + (lo - seg.offset), (hi - lo) * sizeof(T)});
  }
  transport::host_transfer(ctx, blocks, transport::host_direction::from_host);
}

/// Vector -> host memory (the sizes must match), all shards at once; one host sync. In an
/// SPMD context every rank gets all elements.
template <class T>
void copy(const vector<T>& src, std::type_identity_t<std::span<T>> dst) {
  detail::require_same_size("shard::copy", "the host destination", dst.size(), "the source", src.size());
  const detail::call_scope scope(src.get_context().impl(), "shard::copy", src);
  detail::download(src, dst.data());
}

SHARD_NAMESPACE_END
