// Balanced layouts on a mix of device speeds (host backend, g++ only): four emulated devices of
// speeds {1, 1, 0.5, 0.25} (host_options::speed), transform, reduce and sort on the even
// layout and on shard::balanced(ctx), call after call in one loop so both see the same
// machine. Counters: each layout's time per call, the speedup of balanced over even, the
// spread of the shards' busy times in a call (max / min - 1, averaged over the calls) on each
// layout, and the spread of the shards' mean busy times per call on the balanced layout
// (mean_spread). Goals (docs/benchmarks.md): per-shard times within 15%, speedup at least 1.5.
#include "bench_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct axpb {
  SHARD_HOST_DEVICE float operator()(float x) const { return 2.0f * x + 1.0f; }
};

/// The emulated devices' threads: SHARD_BENCH_THREADS, default 2 (a pool of two: as many as
/// this machine's cores, so that no device waits for a core while its kernel runs, as no GPU
/// waits for another's; 0: a thread per device).
std::size_t threads() {
  const char* text = std::getenv("SHARD_BENCH_THREADS");
  return text != nullptr && *text != '\0' ? std::stoull(text) : 2;
}

shard::context& mixed() {
  static shard::context ctx = [] {
    shard::host_options options;
    options.speed = {1.0, 1.0, 0.5, 0.25};
    options.threads = threads();
    auto c = shard::context::host(4, options);
    (void)shard::calibrate(c, {std::size_t{1} << 22, std::size_t{1} << 19, 9});
    return c;
  }();
  return ctx;
}

/// What one call did: its wall time and the shards' busy times.
struct figures {
  double seconds = 0;
  std::vector<double> busy;
};

template <class Call>
figures timed(shard::context& ctx, Call&& call) {
  ctx.reset_stats();
  const auto t0 = std::chrono::steady_clock::now();
  call();
  figures f;
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  f.busy = ctx.stats().busy_seconds;
  return f;
}

double spread(const std::vector<double>& busy) {
  const auto [lo, hi] = std::minmax_element(busy.begin(), busy.end());
  return *lo > 0 ? *hi / *lo - 1 : 0;
}

/// `make(layout)` returns a callable that runs one call on vectors laid out by `layout`.
template <class Make>
void paired(benchmark::State& state, Make&& make) {
  auto& ctx = mixed();
  auto even = make(shard::distribution::even());
  auto balanced = make(shard::balanced(ctx));
  double t_even = 0, t_bal = 0, s_even = 0, s_bal = 0;
  std::vector<double> busy_bal(ctx.size(), 0.0);
  for (auto _ : state) {
    const auto e = timed(ctx, even);
    const auto b = timed(ctx, balanced);
    t_even += e.seconds, t_bal += b.seconds;
    s_even += spread(e.busy), s_bal += spread(b.busy);
    for (std::size_t s = 0; s < ctx.size(); ++s) busy_bal[s] += b.busy[s];
  }
  const double it = static_cast<double>(state.iterations());
  state.counters["even_ms"] = t_even / it * 1e3;
  state.counters["balanced_ms"] = t_bal / it * 1e3;
  state.counters["speedup"] = t_even / t_bal;
  state.counters["even_spread"] = s_even / it;
  state.counters["balanced_spread"] = s_bal / it;
  // The shards' mean busy times per call on the balanced layout, and their spread.
  for (std::size_t s = 0; s < ctx.size(); ++s)
    state.counters["busy" + std::to_string(s) + "_ms"] = busy_bal[s] / it * 1e3;
  state.counters["mean_spread"] = spread(busy_bal);
}

void balance_transform(benchmark::State& state) {
  const std::size_t n = bench::elements();
  paired(state, [&](const shard::distribution& d) {
    auto in = std::make_shared<shard::vector<float>>(mixed(), n, 1.0f, d);
    auto out = std::make_shared<shard::vector<float>>(mixed(), n, 0.0f, d);
    return [in, out] { shard::transform(*in, *out, axpb{}); };
  });
}
BENCHMARK(balance_transform)->UseRealTime()->Iterations(20);

void balance_reduce(benchmark::State& state) {
  const std::size_t n = bench::elements();
  paired(state, [&](const shard::distribution& d) {
    auto in = std::make_shared<shard::vector<float>>(mixed(), n, 1.0f, d);
    return [in] { benchmark::DoNotOptimize(shard::reduce(*in)); };
  });
}
BENCHMARK(balance_reduce)->UseRealTime()->Iterations(20);

void balance_sort(benchmark::State& state) {
  const std::size_t n = bench::elements() / 4;
  std::vector<std::uint32_t> host(n);
  std::uint32_t x = 12345;
  for (auto& k : host) k = x = x * 1664525u + 1013904223u;
  paired(state, [&](const shard::distribution& d) {
    auto pristine = std::make_shared<shard::vector<std::uint32_t>>(mixed(), host, d);
    auto keys = std::make_shared<shard::vector<std::uint32_t>>(*pristine);
    // The copy back to unsorted keys is part of each call here, on both layouts alike.
    return [pristine, keys] {
      shard::copy(*pristine, *keys);
      shard::sort(*keys);
    };
  });
}
BENCHMARK(balance_sort)->UseRealTime()->Iterations(10);

}  // namespace

BENCHMARK_MAIN();
