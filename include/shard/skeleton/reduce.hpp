#pragma once
/// @file skeleton/reduce.hpp
/// Reduction skeleton: one partial per non-empty segment, computed on its shard, copied to
/// the host (all_gather), and combined there in shard order: init op p0 op p1 op ... The
/// order is fixed, so the result does not change from run to run. Every shard's kernel is
/// queued before any copy, and the partials land in pinned host slots owned by the context,
/// so no copy blocks the host and the shards reduce at the same time. Moves one partial per
/// shard to the host; one host sync.
#include <shard/config.hpp>
#include <shard/core/buffer.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/reduce.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/transport/copy.hpp>

#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Queues `enqueue(dev, shard, slot)` on every shard with a non-empty segment, which
/// reduces that segment into the one-element shard buffer `slot`, and gathers the slots on
/// the host (all_gather, one wait). Returns the partials (T{} for empty segments).
template <class Slot, class Enqueue>
std::vector<Slot> gather_partials(context_impl& ctx, const std::vector<std::size_t>& sizes, Enqueue&& enqueue) {
  return all_gather<Slot>(
             ctx, 1,
             [&](std::size_t s, Slot* slot) {
               if (sizes[s] == 0) return false;
               launch(ctx, s, [&](auto& dev) { enqueue(dev, s, slot); });
               return true;
             },
             seen_by::host)
      .host;
}

/// The reduction of f(0..sizes[s]) with `rop` on every shard s, where f = make_f(s); a
/// partial is absent for an empty segment. Addition over arithmetic types reduces from 0;
/// any other operator is lifted to maybe<U>, so it needs no identity.
template <class U, class Rop, class MakeF>
std::vector<maybe<U>> segment_partials(context_impl& ctx, const std::vector<std::size_t>& sizes, Rop rop,
                                       MakeF make_f) {
  std::vector<maybe<U>> out(sizes.size(), maybe<U>{U{}, false});
  if constexpr (is_arithmetic_plus<Rop, U>) {
    const auto partial = gather_partials<U>(ctx, sizes, [&](auto& dev, std::size_t s, U* slot) {
      primitive::transform_reduce_index(dev, sizes[s], slot, U{}, rop, make_f(s));
    });
    for (std::size_t s = 0; s < sizes.size(); ++s)
      if (sizes[s] != 0) out[s] = maybe<U>{partial[s], true};
  } else {
    out = gather_partials<maybe<U>>(ctx, sizes, [&](auto& dev, std::size_t s, maybe<U>* slot) {
      primitive::transform_reduce_index(dev, sizes[s], slot, maybe<U>{U{}, false}, maybe_op<Rop>{rop},
                                        present_fn<U, decltype(make_f(s))>{make_f(s)});
    });
    for (std::size_t s = 0; s < sizes.size(); ++s)
      if (sizes[s] == 0) out[s].valid = false;
  }
  return out;
}

/// init rop p0 rop p1 ... over the present partials, in shard order.
template <class U, class Rop>
U fold_partials(U init, Rop rop, const std::vector<maybe<U>>& partials) {
  U acc = init;
  for (const auto& p : partials)
    if (p.valid) acc = static_cast<U>(rop(acc, p.value));
  return acc;
}

/// Reduces every segment on its shard, then folds the partials into `init` in shard order:
/// the caller's init is applied exactly once.
template <class U, class Rop, class MakeF>
U reduce_segments(context_impl& ctx, const std::vector<std::size_t>& sizes, U init, Rop rop, MakeF make_f) {
  return fold_partials(init, rop, segment_partials<U>(ctx, sizes, rop, make_f));
}

/// reduce_segments over the elements themselves, through CUB's pointer path (vectorised
/// loads) when the operator is addition over an arithmetic type.
template <class T, class U, class Rop>
U reduce_elements(context_impl& ctx, const std::vector<const T*>& data, const std::vector<std::size_t>& sizes, U init,
                  Rop rop) {
  if constexpr (is_arithmetic_plus<Rop, U> && std::is_same_v<T, U>) {
    const auto partial = gather_partials<U>(ctx, sizes, [&](auto& dev, std::size_t s, U* slot) {
      primitive::reduce(dev, data[s], sizes[s], slot, U{}, rop);
    });
    std::vector<maybe<U>> present(sizes.size(), maybe<U>{U{}, false});
    for (std::size_t s = 0; s < sizes.size(); ++s)
      if (sizes[s] != 0) present[s] = maybe<U>{partial[s], true};
    return fold_partials(init, rop, present);
  } else {
    return reduce_segments(ctx, sizes, init, rop, [&](std::size_t s) { return read_fn<T, identity_fn>{data[s], {}}; });
  }
}

}  // namespace detail
SHARD_NAMESPACE_END
