#pragma once
/// @file balance.hpp
/// Layouts from measured speed and memory: a short calibration of every shard (a transform and
/// a sort of a fixed size, all shards at once; cached in the context, run again on request)
/// and each device's free memory give distribution::balanced, so that a mix of GPUs finishes
/// together and no device is filled past what it holds (docs/design.md, "Balanced layouts").
#include <shard/config.hpp>
#include <shard/calibration.hpp>
#include <shard/context.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/distribution.hpp>
#include <shard/error.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/sort.hpp>
#include <shard/primitive/transform.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/transport/host.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// What a calibration runs on every shard. The defaults depend on the backend: 2^24 floats and
/// 2^22 keys on GPUs (tens of microseconds and about a millisecond on an H100: long enough to
/// time), 2^21 and 2^18 on emulated devices (a few milliseconds each on one core). Larger
/// sizes and more repetitions measure the emulated devices' speeds more closely (they share
/// the host's cores and memory: docs/benchmarks.md).
struct calibration_options {
  std::size_t transform_elements = 0;  // 0: the backend's default
  std::size_t sort_elements = 0;       // 0: the backend's default
  int repetitions = 5;                 // the least time of these counts
};

namespace detail {

/// The calibration transform: one multiply-add per element (memory-bound, as most transforms).
struct calibration_op {
  SHARD_HOST_DEVICE float operator()(float x) const { return x * 1.0001f + 0.5f; }
};

/// values[s] for every shard s on every rank: each rank fills its local shards' entries, the
/// ranks share them (collective in an SPMD context).
template <class T>
void share_shard_values(context_impl& ctx, std::vector<T>& values, const char* what) {
  if (!ctx.spmd()) return;
  std::vector<std::size_t> bytes(static_cast<std::size_t>(ctx.ranks()));
  for (int r = 0; r < ctx.ranks(); ++r) bytes[static_cast<std::size_t>(r)] = (ctx.first_shard(r + 1) - ctx.first_shard(r)) * sizeof(T);
  const T* mine = values.data() + ctx.first_shard(ctx.rank());
  ctx.communicate(what, [&](auto deadline) { return ctx.comm().all_gather_v(mine, values.data(), bytes, deadline); });
}

}  // namespace detail

inline std::vector<std::uint64_t> free_memory(const context& ctx);

/// Runs the calibration on every shard at once, caches its figures in the context (copies of
/// the context share them) and returns them: per shard the least time of `repetitions`
/// transforms of transform_elements floats and sorts of sort_elements uint32 keys (its busy
/// time in each: stats::busy_seconds), and the speed 1 / (t_transform / fastest t_transform + t_sort /
/// fastest t_sort), scaled so that the fastest shard has 1. Allocates about 4 x
/// transform_elements + 8 x sort_elements bytes per shard for the call; moves the keys from
/// the host once; 3 host syncs per repetition. Collective in an SPMD context (every rank gets every shard's
/// figures). On devices nearly full the sizes are halved until the buffers fit in half of the
/// least free memory of any shard (calibration::transform_elements says what ran). Throws
/// invalid_argument for no elements or repetitions.
inline calibration calibrate(const context& ctx, calibration_options options = {}) {
  auto& impl = ctx.impl();
  const detail::call_scope scope(impl, "shard::calibrate");
  const bool gpu = ctx.kind() == backend::cuda;
  if (options.transform_elements == 0) options.transform_elements = gpu ? std::size_t{1} << 24 : std::size_t{1} << 21;
  if (options.sort_elements == 0) options.sort_elements = gpu ? std::size_t{1} << 22 : std::size_t{1} << 18;
  if (options.repetitions < 1) throw invalid_argument("shard::calibrate: repetitions must be at least 1");
  // On devices nearly full, smaller: at most half of the least free memory of any shard.
  std::uint64_t least_free = distribution::no_limit;
  for (auto f : free_memory(ctx)) least_free = std::min(least_free, f);
  const auto need = [&] { return 8 * static_cast<std::uint64_t>(options.transform_elements + options.sort_elements); };
  while (least_free != distribution::no_limit && need() > least_free / 2 && options.sort_elements > 1024)
    options.transform_elements /= 2, options.sort_elements /= 2;
  const std::size_t g = ctx.size(), nt = options.transform_elements, ns = options.sort_elements;
  const std::vector<std::size_t> per_t(g, nt), per_s(g, ns);
  detail::segmented_buffer<float> in(impl, per_t), out(impl, per_t);
  detail::segmented_buffer<std::uint32_t> pristine(impl, per_s), keys(impl, per_s);
  // The same keys on every shard (a fixed generator), from the host once.
  std::vector<std::uint32_t> host(ns);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (auto& k : host) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    k = static_cast<std::uint32_t>(state >> 32);
  }
  std::vector<transport::host_block> blocks;
  for (auto s : impl.local_shards()) blocks.push_back({s, host.data(), pristine.data(s), ns * sizeof(std::uint32_t)});
  transport::host_transfer(impl, blocks, transport::host_direction::from_host);
  // Every step runs on all shards at once, as the algorithms do; a shard's time in it is its
  // busy time in the stats (the span of its kernel on its queue, timed as it runs on the host,
  // by events on a GPU), not the time its queue waited for a host thread or for the others.
  const auto busy_in = [&](auto&& enqueue) {
    const auto before = impl.snapshot().busy_seconds;
    detail::run_and_wait(impl, enqueue);
    auto after = impl.snapshot().busy_seconds;
    for (std::size_t s = 0; s < g; ++s) after[s] = (after[s] - before[s]) * 1e3;
    return after;
  };
  detail::run_and_wait(impl, [&] { detail::enqueue_fill(impl, in.pointers(), per_t, 1.0f); });
  calibration c;
  c.transform_elements = nt;
  c.sort_elements = ns;
  c.transform_ms.assign(g, 1e300);
  c.sort_ms.assign(g, 1e300);
  for (int r = 0; r < options.repetitions; ++r) {
    const auto t = busy_in([&] {
      detail::enqueue_segments(impl, per_t, [&](auto& d, std::size_t s) {
        detail::primitive::transform(d, static_cast<const float*>(in.data(s)), out.data(s), nt, detail::calibration_op{});
      });
    });
    detail::run_and_wait(impl, [&] {
      for (auto s : impl.local_shards()) impl.dev(s).copy_local(keys.data(s), pristine.data(s), ns * sizeof(std::uint32_t));
    });
    const auto u = busy_in([&] {
      detail::enqueue_segments(impl, per_s, [&](auto& d, std::size_t s) { detail::primitive::sort(d, keys.data(s), ns, less<>{}); });
    });
    for (auto s : impl.local_shards()) {
      c.transform_ms[s] = std::min(c.transform_ms[s], std::max(t[s], 1e-6));
      c.sort_ms[s] = std::min(c.sort_ms[s], std::max(u[s], 1e-6));
    }
  }
  detail::share_shard_values(impl, c.transform_ms, "shard::calibrate (transform times)");
  detail::share_shard_values(impl, c.sort_ms, "shard::calibrate (sort times)");
  const double fastest_t = *std::min_element(c.transform_ms.begin(), c.transform_ms.end());
  const double fastest_s = *std::min_element(c.sort_ms.begin(), c.sort_ms.end());
  c.speed.assign(g, 0);
  for (std::size_t s = 0; s < g; ++s) c.speed[s] = 1.0 / (c.transform_ms[s] / fastest_t + c.sort_ms[s] / fastest_s);
  const double top = *std::max_element(c.speed.begin(), c.speed.end());
  for (auto& v : c.speed) v /= top;
  impl.set_calibration(c);
  return c;
}

/// The context's calibration: the cached one, or calibrate(ctx) when there is none yet.
/// Collective in an SPMD context.
inline calibration calibration_of(const context& ctx) {
  if (const calibration* c = ctx.impl().cached_calibration()) return *c;
  return calibrate(ctx);
}

/// Bytes each shard could allocate now (device::free_memory: a GPU's free memory and its
/// pool's unused reserve; an emulated device's capacity left), distribution::no_limit where
/// the device cannot tell. Shards on one GPU share its memory: each is given an equal part of
/// it. Collective in an SPMD context; no device work.
inline std::vector<std::uint64_t> free_memory(const context& ctx) {
  auto& impl = ctx.impl();
  const std::size_t g = ctx.size();
  std::vector<std::uint64_t> free_bytes(g, distribution::no_limit);
  for (auto s : impl.local_shards()) {
    std::size_t sharing = 0;
    for (auto t : impl.local_shards()) sharing += impl.dev(t).ordinal() == impl.dev(s).ordinal() ? 1 : 0;
    const std::uint64_t f = impl.dev(s).free_memory();
    free_bytes[s] = f == detail::device::unknown_memory ? distribution::no_limit : f / sharing;
  }
  detail::share_shard_values(impl, free_bytes, "shard::free_memory");
  return free_bytes;
}

/// A layout for a new vector (or a redistribution) on `ctx`: sizes proportional to the
/// shards' calibrated speeds (calibration_of), none holding more than `memory_fraction` of its
/// free memory now (free_memory): distribution::balanced. Take a fresh one for each vector: it
/// holds the free memory of the moment. A vector that does not fit in every shard's part
/// together throws out_of_memory naming the bytes it needs and the bytes free. Collective in an
/// SPMD context (the same layout on every rank). Throws invalid_argument for a fraction outside
/// (0, 1].
inline distribution balanced(const context& ctx, double memory_fraction = 1.0) {
  if (!(memory_fraction > 0 && memory_fraction <= 1))
    throw invalid_argument("shard::balanced: memory_fraction is " + std::to_string(memory_fraction) + ", not in (0, 1]");
  const auto c = calibration_of(ctx);
  auto caps = free_memory(ctx);
  for (auto& b : caps)
    if (b != distribution::no_limit) b = static_cast<std::uint64_t>(static_cast<double>(b) * memory_fraction);
  return distribution::balanced(c.speed, std::move(caps));
}

SHARD_NAMESPACE_END
