// inclusive_scan over 1..8 shards against the single-device baseline: std::inclusive_scan on
// the host, raw cub::DeviceScan::InclusiveSum on one GPU. 64-bit integers; bytes per second
// count one read and one write of every element (the output is written before timing, so
// no run pays for first touching its pages).
#include "bench_support.hpp"

#include <cstdint>
#include <numeric>

#if SHARD_HAS_CUDA
#  include <cub/device/device_scan.cuh>
#endif

namespace {
using value = std::int64_t;

void std_inclusive_scan(benchmark::State& state) {
  const std::size_t n = bench::elements();
  std::vector<value> in(n), out(n, 0);
  std::iota(in.begin(), in.end(), value{0});
  for (auto _ : state) {
    std::inclusive_scan(in.begin(), in.end(), out.begin());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2 * sizeof(value)));
}
BENCHMARK(std_inclusive_scan)->UseRealTime();

void shard_inclusive_scan(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  shard::vector<value> in(ctx, n), out(ctx, n);
  shard::iota(in, value{0});
  ctx.reset_stats();
  for (auto _ : state) shard::inclusive_scan(in, out);
  bench::report(state, ctx, 2.0 * n * sizeof(value));
}
BENCHMARK_CAPTURE(shard_inclusive_scan, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();

#if SHARD_HAS_CUDA
void cub_inclusive_scan(benchmark::State& state) {
  if (bench::skipped_without_gpu(state)) return;
  const std::size_t n = bench::elements();
  value *in = nullptr, *out = nullptr;
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  cudaStream_t stream = nullptr;
  bool ok = cudaMalloc(&in, n * sizeof(value)) == cudaSuccess && cudaMalloc(&out, n * sizeof(value)) == cudaSuccess &&
            cudaStreamCreate(&stream) == cudaSuccess && cudaMemset(in, 0, n * sizeof(value)) == cudaSuccess &&
            cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, in, out, static_cast<std::int64_t>(n), stream) ==
                cudaSuccess &&
            cudaMalloc(&temp, temp_bytes) == cudaSuccess;
  if (!ok) state.SkipWithError("CUDA setup failed");
  for (auto _ : state) {
    if (!ok) break;
    ok = cub::DeviceScan::InclusiveSum(temp, temp_bytes, in, out, static_cast<std::int64_t>(n), stream) == cudaSuccess &&
         cudaStreamSynchronize(stream) == cudaSuccess;
    if (!ok) state.SkipWithError("cub::DeviceScan failed");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2 * sizeof(value)));
  cudaFree(in);
  cudaFree(out);
  cudaFree(temp);
  if (stream != nullptr) cudaStreamDestroy(stream);
}
BENCHMARK(cub_inclusive_scan)->UseRealTime();
BENCHMARK_CAPTURE(shard_inclusive_scan, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
#endif
}  // namespace

BENCHMARK_MAIN();
