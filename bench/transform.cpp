// transform over 1..8 shards against the single-device baseline: std::transform on the host,
// raw cub::DeviceTransform on one GPU. Bytes per second count one read and one write. And a
// time step of a stencil (shard::stencil: 1-D 3-point, 2-D 5-point) on the same sizes and shards.
#include "bench_support.hpp"

#include <algorithm>
#include <chrono>

#if SHARD_HAS_CUDA
#  include <cub/device/device_transform.cuh>
#endif

namespace {
struct axpb {
  SHARD_HOST_DEVICE float operator()(float x) const { return 2.0f * x + 1.0f; }
};

void std_transform(benchmark::State& state) {
  const std::size_t n = bench::elements();
  std::vector<float> in(n, 1.0f), out(n);
  for (auto _ : state) {
    std::transform(in.begin(), in.end(), out.begin(), axpb{});
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2 * sizeof(float)));
}
BENCHMARK(std_transform)->UseRealTime();

void shard_transform(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  shard::vector<float> in(ctx, n, 1.0f), out(ctx, n);
  ctx.reset_stats();
  for (auto _ : state) shard::transform(in, out, axpb{});
  bench::report(state, ctx, 2.0 * n * sizeof(float));
}
BENCHMARK_CAPTURE(shard_transform, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();

/// One step of the 1-D heat equation: a 3-point stencil.
struct three_point {
  SHARD_HOST_DEVICE float operator()(const shard::window<float>& w) const {
    return 0.25f * w[-1] + 0.5f * w[0] + 0.25f * w[1];
  }
};

/// One step of the 2-D heat equation on a row-distributed grid `Width` wide (radius = Width:
/// the rows above and below), 0 beyond the grid's sides. The width is a constant, so the
/// column is a mask, not a division.
template <int Width>
struct five_point {
  SHARD_HOST_DEVICE float operator()(const shard::window<float>& w) const {
    // w[-1] and w[1] are always inside the window (the radius is a whole row): loaded
    // unconditionally and masked at the row's ends, so the loop vectorises.
    const auto x = static_cast<int>(w.index() % static_cast<std::size_t>(Width));
    const float left = w[-1] * static_cast<float>(x > 0), right = w[1] * static_cast<float>(x + 1 < Width);
    return 0.5f * w[0] + 0.125f * (left + right + w[-Width] + w[Width]);
  }
};

/// A time step of a persistent stencil (shard::stencil::apply), against shard_transform of the
/// same size on the same shards (docs/interop.md, "Stencils": goal 1.15x plus the halo copies).
/// range(1): the radius (1: three_point; 1024: a 2-D grid 1024 wide, five_point).
void shard_stencil(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  const auto r = static_cast<std::size_t>(state.range(1));  // 1 or 1024
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  // A 2-D grid's rows stay whole on their shards.
  std::vector<std::size_t> rows = shard::distribution::even().sizes(n / r, ctx.size());
  for (auto& k : rows) k *= r;
  shard::vector<float> in(ctx, n / r * r, 1.0f, shard::distribution::explicit_sizes(rows));
  shard::vector<float> out(ctx, n / r * r, 0.0f, shard::distribution::explicit_sizes(rows));
  const shard::stencil<float> step(in, r, shard::boundary<float>::constant(0.0f));
  ctx.reset_stats();
  for (auto _ : state) {
    if (r == 1) step.apply(in, out, three_point{});
    else step.apply(in, out, five_point<1024>{});
  }
  bench::report(state, ctx, 2.0 * static_cast<double>(in.size()) * sizeof(float));
}
BENCHMARK_CAPTURE(shard_stencil, host, shard::backend::host)
    ->ArgsProduct({{1, 2, 4, 8}, {1, 1024}})
    ->UseRealTime();

/// The stencil step against shard::transform of the same size on the same shards, and against
/// the same callable without the halo (every shard computing its interior alone from its own
/// segment on its worker through on_each_shard: wrong at the shards' edges, the callable's own
/// cost), the three timed call after call in every iteration so that the machine's drift
/// touches all three alike. Counters: the ratios of the sums of their times. Emulated shards.
void host_stencil_paired(benchmark::State& state) {
  const std::size_t n = bench::elements();
  const auto r = static_cast<std::size_t>(state.range(1));  // 1 or 1024
  auto ctx = bench::make_context(shard::backend::host, static_cast<std::size_t>(state.range(0)));
  std::vector<std::size_t> rows = shard::distribution::even().sizes(n / r, ctx.size());
  for (auto& k : rows) k *= r;
  shard::vector<float> in(ctx, n / r * r, 1.0f, shard::distribution::explicit_sizes(rows));
  shard::vector<float> out(ctx, n / r * r, 0.0f, shard::distribution::explicit_sizes(rows));
  const shard::stencil<float> step(in, r, shard::boundary<float>::constant(0.0f));
  using clock = std::chrono::steady_clock;
  double stencil_s = 0, transform_s = 0, alone_s = 0;
  for (auto _ : state) {
    const auto t0 = clock::now();
    shard::transform(in, out, axpb{});
    const auto t1 = clock::now();
    if (r == 1) step.apply(in, out, three_point{});
    else step.apply(in, out, five_point<1024>{});
    const auto t2 = clock::now();
    shard::on_each_shard(
        [&](const shard::shard_place&, shard::segment<float> a, shard::segment<float> b) {
          const auto run = [&](auto f) {
            for (std::size_t i = r; i + r < a.size; ++i)
              b.data[i] = f(shard::window<float>(a.data + i, a.offset + i, static_cast<int>(r)));
          };
          if (r == 1) run(three_point{});
          else run(five_point<1024>{});
        },
        in, out);
    const auto t3 = clock::now();
    const double step_s = std::chrono::duration<double>(t2 - t1).count();
    transform_s += std::chrono::duration<double>(t1 - t0).count();
    stencil_s += step_s;
    alone_s += std::chrono::duration<double>(t3 - t2).count();
    state.SetIterationTime(step_s);
  }
  state.counters["shards"] = static_cast<double>(ctx.size());
  state.counters["vs_transform"] = stencil_s / transform_s;
  state.counters["vs_no_halo"] = stencil_s / alone_s;
}
BENCHMARK(host_stencil_paired)->ArgsProduct({{1, 2, 4, 8}, {1, 1024}})->UseManualTime();

#if SHARD_HAS_CUDA
void cub_transform(benchmark::State& state) {
  if (bench::skipped_without_gpu(state)) return;
  const std::size_t n = bench::elements();
  float *in = nullptr, *out = nullptr;
  cudaStream_t stream = nullptr;
  if (cudaMalloc(&in, n * sizeof(float)) != cudaSuccess || cudaMalloc(&out, n * sizeof(float)) != cudaSuccess ||
      cudaStreamCreate(&stream) != cudaSuccess || cudaMemset(in, 0, n * sizeof(float)) != cudaSuccess) {
    state.SkipWithError("CUDA setup failed");
    return;
  }
  for (auto _ : state) {
    if (cub::DeviceTransform::Transform(in, out, n, axpb{}, stream) != cudaSuccess ||
        cudaStreamSynchronize(stream) != cudaSuccess) {
      state.SkipWithError("cub::DeviceTransform failed");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2 * sizeof(float)));
  cudaFree(in);
  cudaFree(out);
  cudaStreamDestroy(stream);
}
BENCHMARK(cub_transform)->UseRealTime();
BENCHMARK_CAPTURE(shard_transform, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
BENCHMARK_CAPTURE(shard_stencil, cuda, shard::backend::cuda)
    ->ArgsProduct({{1, 2, 4, 8}, {1, 1024}})
    ->UseRealTime();
#endif
}  // namespace

BENCHMARK_MAIN();
