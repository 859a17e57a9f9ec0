// transform over 1..8 shards against the single-device baseline: std::transform on the host,
// raw cub::DeviceTransform on one GPU. Bytes per second count one read and one write.
#include "bench_support.hpp"

#include <algorithm>

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
#endif
}  // namespace

BENCHMARK_MAIN();
