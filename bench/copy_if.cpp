// copy_if over 1..8 shards against the single-device baseline: std::copy_if on the host, raw
// cub::DeviceSelect::If on one GPU. 32-bit integers, about half of them kept; bytes per second
// count one read of every element.
#include "bench_support.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

#if SHARD_HAS_CUDA
#  include <cub/device/device_select.cuh>
#endif

namespace {
struct is_odd {
  SHARD_HOST_DEVICE bool operator()(std::int32_t x) const { return (x & 1) != 0; }
};

std::vector<std::int32_t> random_values(std::size_t n) {
  std::mt19937 rng(7);
  std::vector<std::int32_t> out(n);
  for (auto& x : out) x = static_cast<std::int32_t>(rng());
  return out;
}

void std_copy_if(benchmark::State& state) {
  const std::size_t n = bench::elements();
  const auto in = random_values(n);
  std::vector<std::int32_t> out(n, 0);
  for (auto _ : state) benchmark::DoNotOptimize(std::copy_if(in.begin(), in.end(), out.begin(), is_odd{}));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(std::int32_t)));
}
BENCHMARK(std_copy_if)->UseRealTime();

void shard_copy_if(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  const shard::vector<std::int32_t> in(ctx, random_values(n));
  shard::vector<std::int32_t> out(ctx, 0);
  ctx.reset_stats();
  for (auto _ : state) benchmark::DoNotOptimize(shard::copy_if(in, out, is_odd{}));
  bench::report(state, ctx, 1.0 * n * sizeof(std::int32_t));
}
BENCHMARK_CAPTURE(shard_copy_if, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();

#if SHARD_HAS_CUDA
void cub_copy_if(benchmark::State& state) {
  if (bench::skipped_without_gpu(state)) return;
  const std::size_t n = bench::elements();
  const auto host = random_values(n);
  std::int32_t *in = nullptr, *out = nullptr;
  std::int64_t* count = nullptr;
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  cudaStream_t stream = nullptr;
  bool ok = cudaMalloc(&in, n * sizeof(std::int32_t)) == cudaSuccess &&
            cudaMalloc(&out, n * sizeof(std::int32_t)) == cudaSuccess &&
            cudaMalloc(&count, sizeof(std::int64_t)) == cudaSuccess && cudaStreamCreate(&stream) == cudaSuccess &&
            cudaMemcpy(in, host.data(), n * sizeof(std::int32_t), cudaMemcpyHostToDevice) == cudaSuccess &&
            cub::DeviceSelect::If(nullptr, temp_bytes, in, out, count, static_cast<std::int64_t>(n), is_odd{},
                                  stream) == cudaSuccess &&
            cudaMalloc(&temp, temp_bytes) == cudaSuccess;
  if (!ok) state.SkipWithError("CUDA setup failed");
  std::int64_t selected = 0;
  for (auto _ : state) {
    if (!ok) break;
    // Same work as shard::copy_if on one shard: select, read the count back, wait.
    ok = cub::DeviceSelect::If(temp, temp_bytes, in, out, count, static_cast<std::int64_t>(n), is_odd{}, stream) ==
             cudaSuccess &&
         cudaMemcpyAsync(&selected, count, sizeof selected, cudaMemcpyDeviceToHost, stream) == cudaSuccess &&
         cudaStreamSynchronize(stream) == cudaSuccess;
    if (!ok) state.SkipWithError("cub::DeviceSelect failed");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(std::int32_t)));
  cudaFree(in);
  cudaFree(out);
  cudaFree(count);
  cudaFree(temp);
  if (stream != nullptr) cudaStreamDestroy(stream);
}
BENCHMARK(cub_copy_if)->UseRealTime();
BENCHMARK_CAPTURE(shard_copy_if, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
#endif
}  // namespace

BENCHMARK_MAIN();
