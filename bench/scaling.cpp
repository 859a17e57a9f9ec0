// Scaling in the number of shards (host backend, g++ only): the same 2^22 random int32 on
// 2, 32 and 256 emulated shards, so that every per-call cost that grows with G shows
// (docs/sort.md, "Scaling in the number of shards"). SHARD_BENCH_N sets the size (CI
// smoke-runs a tiny one). The sort and the merge also report their splitter phase's wall
// time per call (splitters_s) and its share of the call (splitters_share).
#include "bench_support.hpp"

#include <chrono>
#include <cstdint>
#include <random>

namespace {

std::size_t scaling_elements() {
  const char* text = std::getenv("SHARD_BENCH_N");
  return text != nullptr && *text != '\0' ? std::stoull(text) : std::size_t{1} << 22;
}

std::vector<std::int32_t> random_keys(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int32_t> out(n);
  for (auto& x : out) x = static_cast<std::int32_t>(rng());
  return out;
}

/// Runs `call` once per iteration (after the untimed `reset`), with the stats of the last
/// call; the phase `splitters` (when given) as counters.
template <class Reset, class Call>
void timed(benchmark::State& state, shard::context& ctx, Reset&& reset, Call&& call, const char* splitters = nullptr) {
  double seconds = 0, split = 0;
  for (auto _ : state) {
    state.PauseTiming();
    reset();
    ctx.reset_stats();
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    call();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (splitters != nullptr) split += ctx.stats().phase_seconds(splitters);
  }
  state.counters["shards"] = static_cast<double>(ctx.size());
  if (splitters != nullptr && state.iterations() > 0) {
    state.counters["splitters_s"] = split / static_cast<double>(state.iterations());
    state.counters["splitters_share"] = seconds > 0 ? split / seconds : 0;
  }
}

void sort_int32(benchmark::State& state) {
  const std::size_t n = scaling_elements();
  auto ctx = shard::context::host(static_cast<std::size_t>(state.range(0)));
  const shard::vector<std::int32_t> input(ctx, random_keys(n, 42));
  shard::vector<std::int32_t> keys(ctx, n);
  timed(state, ctx, [&] { shard::copy(input, keys); }, [&] { shard::sort(keys); }, "sort.splitters");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void merge_int32(benchmark::State& state) {
  const std::size_t n = scaling_elements();
  auto ctx = shard::context::host(static_cast<std::size_t>(state.range(0)));
  shard::vector<std::int32_t> a(ctx, random_keys(n, 1)), b(ctx, random_keys(n, 2)), out(ctx, 2 * n);
  shard::sort(a);
  shard::sort(b);
  timed(state, ctx, [] {}, [&] { shard::merge(a, b, out); }, "merge.splitters");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2 * n));
}

void inclusive_scan_int32(benchmark::State& state) {
  const std::size_t n = scaling_elements();
  auto ctx = shard::context::host(static_cast<std::size_t>(state.range(0)));
  const shard::vector<std::int32_t> in(ctx, random_keys(n, 3));
  shard::vector<std::int32_t> out(ctx, n);
  timed(state, ctx, [] {}, [&] { shard::inclusive_scan(in, out); });
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void unique_int32(benchmark::State& state) {
  const std::size_t n = scaling_elements();
  auto ctx = shard::context::host(static_cast<std::size_t>(state.range(0)));
  const shard::vector<std::int32_t> input(ctx, random_keys(n, 4));
  shard::vector<std::int32_t> v(ctx, n);
  timed(state, ctx, [&] { shard::copy(input, v); }, [&] { benchmark::DoNotOptimize(shard::unique(v)); });
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void transform_int32(benchmark::State& state) {
  const std::size_t n = scaling_elements();
  auto ctx = shard::context::host(static_cast<std::size_t>(state.range(0)));
  const shard::vector<std::int32_t> in(ctx, random_keys(n, 5));
  shard::vector<std::int32_t> out(ctx, n);
  timed(state, ctx, [] {}, [&] { shard::transform(in, out, [](std::int32_t x) { return 2 * x + 1; }); });
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

}  // namespace

#define SHARD_SCALING_SHARDS Arg(2)->Arg(32)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime()
BENCHMARK(sort_int32)->SHARD_SCALING_SHARDS;
BENCHMARK(merge_int32)->SHARD_SCALING_SHARDS;
BENCHMARK(inclusive_scan_int32)->SHARD_SCALING_SHARDS;
BENCHMARK(unique_int32)->SHARD_SCALING_SHARDS;
BENCHMARK(transform_int32)->SHARD_SCALING_SHARDS;

BENCHMARK_MAIN();
