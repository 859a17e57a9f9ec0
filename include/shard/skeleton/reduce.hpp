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
#include <shard/core/exact_sum.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/error.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/reduce.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/transport/copy.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
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

/// The correctly rounded sum init + f_s(0) + ... over every shard s, f_s = make_f(s) returning
/// U (float or double): every shard deposits its values into exact bins (core/exact_sum.hpp,
/// primitive sum_exactly), the bins are gathered on the host (all_gather, one wait) and added
/// there into one exact integer, rounded once. The result depends on the values alone: not on
/// the layout, the ranks, the backend or the run. Moves exact_bins<U>::count 64-bit integers
/// per non-empty segment to the host (2 KiB for float, 32 KiB for double). Throws
/// invalid_argument for a segment of more than 2^36 elements.
template <class U, class MakeF>
U sum_exactly(context_impl& ctx, const std::vector<std::size_t>& sizes, U init, MakeF make_f, const char* who) {
  static_assert(exact_summable<U>);
  using B = exact_bins<U>;
  std::uint64_t values = 1;  // init
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    if (sizes[s] > exact_segment_max)
      throw invalid_argument(std::string(who) + ": shard " + std::to_string(s) + " holds " + std::to_string(sizes[s]) +
                             " elements, above the 2^36 a reproducible sum takes per shard");
    values += sizes[s];
  }
  const auto bins = all_gather<std::int64_t>(
                        ctx, B::count,
                        [&](std::size_t s, std::int64_t* slot) {
                          if (sizes[s] == 0) return false;
                          launch(ctx, s, [&](auto& dev) { primitive::sum_exactly(dev, sizes[s], make_f(s), slot); });
                          return true;
                        },
                        seen_by::host)
                        .host;
  exact_total total;
  total.add_value(init);
  for (std::size_t s = 0; s < sizes.size(); ++s)
    if (sizes[s] != 0) total.add_bins<U>(bins.data() + s * B::count);
  return total.round<U>(values);
}

}  // namespace detail
SHARD_NAMESPACE_END
