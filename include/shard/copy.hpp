#pragma once
/// @file copy.hpp
/// shard::copy between vectors (any two distributions) and between host memory and vectors.
#include <shard/config.hpp>
#include <shard/detail/skeleton/checks.hpp>
#include <shard/detail/skeleton/plan.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/transport/copy.hpp>
#include <shard/vector.hpp>

#include <span>
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
  if (&src == &dst) return;
  auto& ctx = dst.get_context().impl();
  const auto plan = detail::plan_redistribution(src.segment_sizes(), dst.segment_sizes(), src.size());
  std::vector<const T*> from;
  std::vector<T*> to;
  for (std::size_t s = 0; s < ctx.size(); ++s) {
    from.push_back(src.segment(s).data);
    to.push_back(dst.segment(s).data);
  }
  detail::run_and_wait(ctx, [&] { transport::exchange(ctx, plan, from, to); });
}

/// Host memory -> vector (the sizes must match).
template <class T>
void copy(std::type_identity_t<std::span<const T>> src, vector<T>& dst) {
  detail::require_same_size("shard::copy", "the destination", dst.size(), "the host source", src.size());
  auto& ctx = dst.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto seg = dst.segment(s);
    transport::from_host(ctx, s, seg.data, src.data() + seg.offset, seg.size * sizeof(T));
  });
}

/// Vector -> host memory (the sizes must match).
template <class T>
void copy(const vector<T>& src, std::type_identity_t<std::span<T>> dst) {
  detail::require_same_size("shard::copy", "the host destination", dst.size(), "the source", src.size());
  auto& ctx = src.get_context().impl();
  detail::on_all_shards(ctx, [&](std::size_t s) {
    const auto seg = src.segment(s);
    transport::to_host(ctx, s, dst.data() + seg.offset, seg.data, seg.size * sizeof(T));
  });
}

SHARD_NAMESPACE_END
