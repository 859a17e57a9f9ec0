// reduce over 1..8 shards against the single-device baseline: std::reduce on the host, raw
// cub::DeviceReduce::Sum on one GPU; and the reproducible sum (shard::reproducible) against
// the default one, on the same floats of many magnitudes. Bytes per second count one read of
// every element.
#include "bench_support.hpp"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

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

/// Floats of both signs over 2^-20..2^20: the bins of a reproducible sum are spread.
std::vector<float> varied(std::size_t n) {
  std::vector<float> out(n);
  std::uint32_t x = 12345;
  for (auto& v : out) {
    x = x * 1664525u + 1013904223u;
    v = std::ldexp(static_cast<float>(static_cast<std::int32_t>(x >> 8) - (1 << 23)), static_cast<int>(x % 41) - 43);
  }
  return out;
}

/// The default sum (reproducible = false) or the reproducible one, on varied().
void shard_sum(benchmark::State& state, shard::backend kind, bool reproducible) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  const shard::vector<float> in(ctx, varied(n));
  ctx.reset_stats();
  for (auto _ : state)
    benchmark::DoNotOptimize(reproducible ? shard::reduce(shard::reproducible, in) : shard::reduce(in));
  bench::report(state, ctx, 1.0 * n * sizeof(float));
}
BENCHMARK_CAPTURE(shard_sum, host_default, shard::backend::host, false)->SHARD_BENCH_SHARDS->UseRealTime();
BENCHMARK_CAPTURE(shard_sum, host_reproducible, shard::backend::host, true)->SHARD_BENCH_SHARDS->UseRealTime();

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
BENCHMARK_CAPTURE(shard_sum, cuda_default, shard::backend::cuda, false)->SHARD_BENCH_SHARDS->UseRealTime();
BENCHMARK_CAPTURE(shard_sum, cuda_reproducible, shard::backend::cuda, true)->SHARD_BENCH_SHARDS->UseRealTime();
#endif
}  // namespace

BENCHMARK_MAIN();
