#pragma once
/// @file skeleton/elementwise.hpp
/// The per-segment loop of every element-wise operation, written once: one launch on every
/// shard whose segment is not empty, then (elementwise) one wait for all shards. Moves no
/// bytes.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Queues `enqueue(dev, s)` on every shard s with counts[s] != 0 (one launch each) and
/// returns without waiting. `dev` is the shard's concrete device, for primitive::...(dev, ...).
template <class Enqueue>
void enqueue_segments(context_impl& ctx, const std::vector<std::size_t>& counts, Enqueue&& enqueue) {
  for (std::size_t s = 0; s < ctx.size(); ++s)
    if (counts[s] != 0) launch(ctx, s, [&](auto& dev) { enqueue(dev, s); });
}

/// enqueue_segments, then one wait for all shards.
template <class Enqueue>
void elementwise(context_impl& ctx, const std::vector<std::size_t>& counts, Enqueue&& enqueue) {
  run_and_wait(ctx, [&] { enqueue_segments(ctx, counts, enqueue); });
}

/// Queues first[s][i] = value for i < counts[s] on every shard (no wait).
template <class T>
void enqueue_fill(context_impl& ctx, const std::vector<T*>& first, const std::vector<std::size_t>& counts,
                  const T& value) {
  enqueue_segments(ctx, counts, [&](auto& dev, std::size_t s) {
    primitive::for_each_index(dev, counts[s], fill_fn<T>{first[s], value});
  });
}

}  // namespace detail
SHARD_NAMESPACE_END
