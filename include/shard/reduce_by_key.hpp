#pragma once
/// @file reduce_by_key.hpp
/// shard::reduce_by_key
#include <shard/config.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/detail/checks.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/select.hpp>
#include <shard/skeleton/compact.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <optional>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// For every run of consecutive equal keys (operator==), across shard boundaries too, its key
/// goes to `keys_out` and the reduction of its values by `op` to `values_out` (Thrust's
/// reduce_by_key). Both outputs are replaced by vectors of exactly that many elements, evenly
/// distributed; returns the number of runs.
///
/// Every shard reduces its runs locally (stable); each contributes its run count and its
/// first and last run's key and value (all_gather, one host sync); the host joins runs that
/// cross a boundary (op folds their parts in shard order) and sends each joined value to the
/// shard that keeps it; two exchanges (keys, values) in one wait rebalance (one host sync).
/// `values` laid out unlike `keys` is exchanged into the keys' layout first. Floating-point
/// order: within a shard, the backend's; a run split over shards: the parts' results folded
/// left to right. Throws invalid_argument for different sizes or contexts.
template <class K, class V, class Op>
std::size_t reduce_by_key(const vector<K>& keys, const vector<V>& values, vector<K>& keys_out, vector<V>& values_out,
                          Op op) {
  constexpr const char* name = "shard::reduce_by_key";
  detail::require_same_context(name, keys, values);
  detail::require_same_context(name, keys, keys_out);
  detail::require_same_context(name, keys, values_out);
  detail::require_same_size(name, "the values", values.size(), "the keys", keys.size());
  const detail::call_scope scope(keys.get_context().impl(), name, keys);
  auto& ctx = keys.get_context().impl();
  const std::size_t g = ctx.size();
  const auto& sizes = keys.segment_sizes();
  std::optional<vector<V>> moved;
  const auto vp = detail::pointers(detail::aligned_to(values, sizes, moved));
  const auto kp = detail::pointers(keys);
  const auto f = detail::callable(op);
  detail::segmented_buffer<K> run_keys(ctx, sizes);
  detail::segmented_buffer<V> run_values(ctx, sizes);
  using edges = detail::run_edges<K, V>;
  const auto e = detail::all_gather<edges>(
                     ctx, 1,
                     [&](std::size_t s, edges* slot) {
                       if (sizes[s] == 0) return false;
                       detail::launch(ctx, s, [&](auto& dev) {
                         detail::primitive::reduce_by_key(dev, kp[s], vp[s], sizes[s], run_keys.data(s),
                                                          run_values.data(s), &slot->count, f);
                         detail::primitive::for_each_index(
                             dev, 1, detail::run_edges_fn<K, V>{run_keys.data(s), run_values.data(s), &slot->count, slot});
                       });
                       return true;
                     },
                     detail::seen_by::host)
                     .host;
  // Join the runs that continue across boundaries: a chain starts at a shard's last run (its
  // head) and takes in the first run of each following shard with the same key; a shard whose
  // only run is taken in lets the chain go on.
  std::vector<std::size_t> skip(g, 0), counts(g, 0);
  std::vector<std::vector<V>> fixes(g);
  std::vector<V*> fix_at(g, nullptr);
  std::size_t head = g;
  V acc{};
  bool joined = false;
  auto close = [&] {
    if (head != g && joined) {
      fixes[head] = {acc};
      fix_at[head] = run_values.data(head) + (e[head].count - 1);
    }
  };
  for (std::size_t s = 0; s < g; ++s) {
    if (sizes[s] == 0) continue;
    counts[s] = e[s].count;
    if (head != g && e[head].last_key == e[s].first_key) {
      skip[s] = 1;
      acc = static_cast<V>(f(acc, e[s].first_value));
      joined = true;
      if (e[s].count == 1) continue;  // the chain goes on through this shard
    }
    close();
    head = s;
    acc = e[s].last_value;
    joined = false;
  }
  close();
  std::vector<const K*> first_key(g);
  std::vector<const V*> first_value(g);
  for (std::size_t s = 0; s < g; ++s) {
    counts[s] -= skip[s];
    first_key[s] = run_keys.data(s) + skip[s];
    first_value[s] = run_values.data(s) + skip[s];
  }
  // The joined values go to their shards, and the keys and values are rebalanced, in one wait.
  std::size_t total = 0;
  for (auto n : counts) total += n;
  const auto& context = keys.get_context();
  const auto even = distribution::even().sizes(total, g);
  auto new_keys = detail::vector_access::uninitialized<K>(context, even, distribution::even());
  auto new_values = detail::vector_access::uninitialized<V>(context, even, distribution::even());
  const auto plan = detail::plan_redistribution(counts, even, total);
  detail::run_and_wait(ctx, [&] {
    detail::upload(ctx, fixes, fix_at);
    transport::exchange(ctx, plan, first_key, detail::pointers(new_keys));
    transport::exchange(ctx, plan, first_value, detail::pointers(new_values));
  });
  keys_out = std::move(new_keys);
  values_out = std::move(new_values);
  return keys_out.size();
}

/// reduce_by_key with shard::plus<>.
template <class K, class V>
std::size_t reduce_by_key(const vector<K>& keys, const vector<V>& values, vector<K>& keys_out, vector<V>& values_out) {
  return shard::reduce_by_key(keys, values, keys_out, values_out, plus<>{});
}

SHARD_NAMESPACE_END
