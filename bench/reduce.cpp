// reduce over 1..8 shards against the single-device baseline: std::reduce on the host, raw
// cub::DeviceReduce::Sum on one GPU. Bytes per second count one read of every element.
#include "bench_support.hpp"

#include <numeric>

#if SHARD_HAS_CUDA
#  include <cub/device/device_reduce.cuh>
#endif

namespace {
void std_reduce(benchmark::State& state) {
  const std::size_t n = bench::elements();
  std::vector<float> in(n, 1.0f);
  for (auto _ : state) benchmark::DoNotOptimize(std::reduce(in.begin(), in.end(), 0.0f));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(float)));
}
BENCHMARK(std_reduce)->UseRealTime();

void shard_reduce(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  shard::vector<float> in(ctx, n, 1.0f);
  ctx.reset_stats();
  for (auto _ : state) benchmark::DoNotOptimize(shard::reduce(in));
  bench::report(state, ctx, 1.0 * n * sizeof(float));
}
BENCHMARK_CAPTURE(shard_reduce, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();

#if SHARD_HAS_CUDA
void cub_reduce(benchmark::State& state) {
  if (bench::skipped_without_gpu(state)) return;
  const std::size_t n = bench::elements();
  float *in = nullptr, *out = nullptr;
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  cudaStream_t stream = nullptr;
  float result = 0;
  if (cudaMalloc(&in, n * sizeof(float)) != cudaSuccess || cudaMalloc(&out, sizeof(float)) != cudaSuccess ||
      cudaStreamCreate(&stream) != cudaSuccess || cudaMemset(in, 0, n * sizeof(float)) != cudaSuccess ||
      cub::DeviceReduce::Sum(nullptr, temp_bytes, in, out, n, stream) != cudaSuccess ||
      cudaMalloc(&temp, temp_bytes) != cudaSuccess) {
    state.SkipWithError("CUDA setup failed");
    return;
  }
  for (auto _ : state) {
    // Same work as shard::reduce on one shard: reduce, copy the result to the host, wait.
    if (cub::DeviceReduce::Sum(temp, temp_bytes, in, out, n, stream) != cudaSuccess ||
        cudaMemcpyAsync(&result, out, sizeof(float), cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
        cudaStreamSynchronize(stream) != cudaSuccess) {
      state.SkipWithError("cub::DeviceReduce failed");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(float)));
  cudaFree(in);
  cudaFree(out);
  cudaFree(temp);
  cudaStreamDestroy(stream);
}
BENCHMARK(cub_reduce)->UseRealTime();
BENCHMARK_CAPTURE(shard_reduce, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
#endif
}  // namespace

BENCHMARK_MAIN();
