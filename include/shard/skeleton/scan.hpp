#pragma once
/// @file skeleton/scan.hpp
/// Scan skeleton, reduce-then-scan: every shard but the last reduces its segment (pass 1: a
/// sum through the reduce primitive, any other operator through reduce_in_order, which keeps
/// the operands' order, since a scan's operator need not be commutative);
/// the partials are all-gathered on the shards (metadata.hpp); every shard folds the
/// partials of the shards before it into its carry, in shard order, on the device; and every
/// shard scans its segment starting from that carry, read from device memory when the scan
/// runs (passes 2 and 3). Three passes over the data, no host wait until the end: one host
/// sync. Moves one value from each shard but the last to every other shard.
///
/// Order of a floating-point scan: element i of shard s is
/// ((((init op p_0) op p_1) ... op p_{s-1}) op x_0) op ... op x_i, where p_k is shard k's
/// reduction in its backend's order (docs/design.md) and init is absent for an inclusive
/// scan. The host backend's order is fixed, so its results repeat exactly; CUB's scan on a
/// GPU is not bit-reproducible for floating-point sums (CUB's documentation).
#include <shard/config.hpp>
#include <shard/core/buffer.hpp>
#include <shard/core/fixed_sum.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/reduce.hpp>
#include <shard/primitive/scan.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/skeleton/reduce.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// out[s] = scan of in[s] (sizes[s] elements each) continued across shards in shard order;
/// exclusive when `init` holds a value. in[s] may equal out[s]. Blocks until done. Within the
/// same wait, `prepare()` queues first (work the inputs depend on) and `finish()` last (work
/// on the outputs); neither runs when every segment is empty.
template <class T, class Op, class Prepare = void (*)(), class Finish = void (*)()>
void scan(context_impl& ctx, const std::vector<const T*>& in, const std::vector<T*>& out,
          const std::vector<std::size_t>& sizes, Op op, std::optional<T> init, Prepare&& prepare = [] {},
          Finish&& finish = [] {}) {
  const std::size_t g = ctx.size();
  // Addition over an arithmetic type has the identity T{}: partials are plain values, reduced
  // through the backend's fast path; any other operator works on maybe<T>.
  constexpr bool plain = is_arithmetic_plus<Op, T>;
  using P = std::conditional_t<plain, T, maybe<T>>;
  const bool exclusive = init.has_value();
  const maybe<T> start{exclusive ? *init : T{}, exclusive};
  std::size_t last_nonempty = g;
  for (std::size_t s = 0; s < g; ++s)
    if (sizes[s] != 0) last_nonempty = s;
  if (last_nonempty == g) return;
  segmented_buffer<T> carries;
  run_and_wait(ctx, [&] {
    // Pass 1: the partials the later shards need (none from the last non-empty shard).
    auto partials = all_gather<P>(
        ctx, 1,
        [&](std::size_t s, P* slot) {
          if (s >= last_nonempty) return false;
          launch(ctx, s, [&](auto& dev) {
            if (sizes[s] == 0) {
              primitive::for_each_index(dev, 1, fill_fn<P>{slot, P{}});  // T{} or absent
            } else if constexpr (plain) {
              primitive::reduce(dev, in[s], sizes[s], slot, T{}, op);
            } else {
              // The operator need not be commutative: a reduction in operand order (a scan
              // on a GPU; cub::DeviceReduce would reorder the operands).
              primitive::reduce_in_order(dev, in[s], sizes[s], op, store_present_fn<T>{slot});
            }
          });
          return true;
        },
        seen_by::shards, prepare);
    carries = segmented_buffer<T>(ctx, std::vector<std::size_t>(g, 1));
    bool earlier = false;  // a non-empty shard before this one
    for (std::size_t s = 0; s < g; ++s) {
      if (sizes[s] == 0) continue;
      const bool has_carry = exclusive || earlier;
      earlier = true;
      T* carry = carries.data(s);
      launch(ctx, s, [&](auto& dev) {
        if (has_carry)
          primitive::for_each_index(dev, 1, carry_fn<T, P, Op>{partials.shards.data(s), s, start, carry, op});
        if (exclusive)
          primitive::exclusive_scan(dev, in[s], out[s], sizes[s], op, static_cast<const T*>(carry));
        else
          primitive::inclusive_scan(dev, in[s], out[s], sizes[s], op, has_carry ? static_cast<const T*>(carry) : nullptr);
      });
    }
    finish();
  });
}

/// The reproducible scan of U (float or double) with plus (core/fixed_sum.hpp): the largest
/// magnitude over every shard (a reduction, one host sync); then, in one more wait, every
/// value rounded to the grid it gives (32-byte fixed_sums, n per shard), the scan of those
/// integers (the scan above, with fixed_plus), and every prefix rounded to U into out. The
/// results depend on the values alone. Two host syncs; 32 bytes of scratch per element.
template <class U>
void scan_reproducibly(context_impl& ctx, const std::vector<const U*>& in, const std::vector<U*>& out,
                       const std::vector<std::size_t>& sizes, std::optional<U> init) {
  const auto ranges =
      segment_partials<fixed_range>(ctx, sizes, fixed_range_op{}, [&](std::size_t s) { return range_fn<U>{in[s]}; });
  fixed_range all = init ? range_of(*init) : fixed_range{fixed_range_none, 0};
  std::uint64_t values = init ? 1 : 0;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    values += sizes[s];
    if (ranges[s].valid) all = fixed_range_op{}(all, ranges[s].value);
  }
  const int g = fixed_grid(all.top, values);
  segmented_buffer<fixed_sum> fixed(ctx, sizes);
  const auto f = fixed.pointers();
  std::optional<fixed_sum> start;
  if (init) start = to_fixed(*init, g);
  scan<fixed_sum>(
      ctx, std::vector<const fixed_sum*>(f.begin(), f.end()), f, sizes, fixed_plus{}, start,
      [&] {
        for (std::size_t s = 0; s < sizes.size(); ++s)
          if (sizes[s] != 0)
            launch(ctx, s, [&](auto& dev) { primitive::for_each_index(dev, sizes[s], to_fixed_fn<U>{in[s], f[s], g}); });
      },
      [&] {
        for (std::size_t s = 0; s < sizes.size(); ++s)
          if (sizes[s] != 0)
            launch(ctx, s, [&](auto& dev) { primitive::for_each_index(dev, sizes[s], from_fixed_fn<U>{f[s], out[s], g}); });
      });
}

}  // namespace detail
SHARD_NAMESPACE_END
