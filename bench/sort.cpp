// sort over 1..8 shards against the single-device baseline: std::sort on the host, raw
// cub::DeviceRadixSort on one GPU. Keys are uniformly random 32- or 64-bit integers; "pairs"
// sorts 32-bit keys with 32-bit values (sort_by_key). Every iteration sorts a fresh copy of
// the same input (the copy is not timed). Bytes per second count the keys (and values) once;
// the counters give keys per second and the wall time of sort's phases per call (local sort
// with sampling, splitters, exchange and merge: docs/sort.md).
#include "bench_support.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

#if SHARD_HAS_CUDA
#  include <cub/device/device_radix_sort.cuh>
#endif

namespace {
template <class K>
std::vector<K> random_keys(std::size_t n) {
  std::mt19937_64 rng(42);
  std::vector<K> out(n);
  for (auto& x : out) x = static_cast<K>(rng());
  return out;
}

void keys_rate(benchmark::State& state, std::size_t n) {
  state.counters["keys/s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

template <class K>
void std_sort(benchmark::State& state) {
  const std::size_t n = bench::elements();
  const auto input = random_keys<K>(n);
  std::vector<K> keys(n);
  for (auto _ : state) {
    state.PauseTiming();
    keys = input;
    state.ResumeTiming();
    std::sort(keys.begin(), keys.end());
    benchmark::DoNotOptimize(keys.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(K)));
  keys_rate(state, n);
}
BENCHMARK(std_sort<std::int32_t>)->UseRealTime();
BENCHMARK(std_sort<std::int64_t>)->UseRealTime();

// Figures of the last call (every call does the same work): bytes between shards, host syncs
// and the wall time of each phase.
void last_call(benchmark::State& state, const shard::context& ctx, const std::string& algorithm) {
  const auto st = ctx.stats();
  state.counters["shards"] = static_cast<double>(ctx.size());
  state.counters["xshard_B"] = static_cast<double>(st.bytes_between_shards());
  state.counters["syncs"] = static_cast<double>(st.host_syncs);
  for (const char* phase : {"local", "splitters", "exchange_merge"})
    state.counters[std::string(phase) + "_s"] = st.phase_seconds(algorithm + "." + phase);
}

template <class K>
void shard_sort(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  const shard::vector<K> input(ctx, random_keys<K>(n));
  shard::vector<K> keys(ctx, n);
  for (auto _ : state) {
    state.PauseTiming();
    shard::copy(input, keys);
    ctx.reset_stats();
    state.ResumeTiming();
    shard::sort(keys);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(K)));
  keys_rate(state, n);
  last_call(state, ctx, "sort");
}
void shard_sort_int32(benchmark::State& state, shard::backend kind) { shard_sort<std::int32_t>(state, kind); }
void shard_sort_int64(benchmark::State& state, shard::backend kind) { shard_sort<std::int64_t>(state, kind); }
BENCHMARK_CAPTURE(shard_sort_int32, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();
BENCHMARK_CAPTURE(shard_sort_int64, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();

void std_sort_pairs(benchmark::State& state) {
  const std::size_t n = bench::elements();
  const auto keys_in = random_keys<std::int32_t>(n);
  std::vector<std::pair<std::int32_t, std::int32_t>> pairs(n);
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < n; ++i) pairs[i] = {keys_in[i], static_cast<std::int32_t>(i)};
    state.ResumeTiming();
    std::stable_sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    benchmark::DoNotOptimize(pairs.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 8));
  keys_rate(state, n);
}
BENCHMARK(std_sort_pairs)->UseRealTime();

void shard_sort_pairs(benchmark::State& state, shard::backend kind) {
  if (bench::skipped_without_gpu(state, kind)) return;
  const std::size_t n = bench::elements();
  auto ctx = bench::make_context(kind, static_cast<std::size_t>(state.range(0)));
  const shard::vector<std::int32_t> keys_in(ctx, random_keys<std::int32_t>(n));
  shard::vector<std::int32_t> keys(ctx, n), values(ctx, n);
  for (auto _ : state) {
    state.PauseTiming();
    shard::copy(keys_in, keys);
    shard::iota(values, 0);
    ctx.reset_stats();
    state.ResumeTiming();
    shard::sort_by_key(keys, values);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 8));
  keys_rate(state, n);
  last_call(state, ctx, "sort_by_key");
}
BENCHMARK_CAPTURE(shard_sort_pairs, host, shard::backend::host)->SHARD_BENCH_SHARDS->UseRealTime();

#if SHARD_HAS_CUDA
template <class K>
void cub_sort(benchmark::State& state) {
  if (bench::skipped_without_gpu(state)) return;
  const std::size_t n = bench::elements();
  const auto input = random_keys<K>(n);
  K *keys = nullptr, *alt = nullptr, *pristine = nullptr;
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  cudaStream_t stream = nullptr;
  cub::DoubleBuffer<K> buffers(nullptr, nullptr);
  bool ok = cudaMalloc(&keys, n * sizeof(K)) == cudaSuccess && cudaMalloc(&alt, n * sizeof(K)) == cudaSuccess &&
            cudaMalloc(&pristine, n * sizeof(K)) == cudaSuccess && cudaStreamCreate(&stream) == cudaSuccess &&
            cudaMemcpy(pristine, input.data(), n * sizeof(K), cudaMemcpyHostToDevice) == cudaSuccess;
  buffers = cub::DoubleBuffer<K>(keys, alt);
  ok = ok && cub::DeviceRadixSort::SortKeys(nullptr, temp_bytes, buffers, static_cast<std::int64_t>(n), 0,
                                            int(sizeof(K) * 8), stream) == cudaSuccess &&
       cudaMalloc(&temp, temp_bytes) == cudaSuccess;
  if (!ok) state.SkipWithError("CUDA setup failed");
  for (auto _ : state) {
    if (!ok) break;
    state.PauseTiming();
    buffers = cub::DoubleBuffer<K>(keys, alt);
    ok = cudaMemcpyAsync(keys, pristine, n * sizeof(K), cudaMemcpyDeviceToDevice, stream) == cudaSuccess &&
         cudaStreamSynchronize(stream) == cudaSuccess;
    state.ResumeTiming();
    ok = ok && cub::DeviceRadixSort::SortKeys(temp, temp_bytes, buffers, static_cast<std::int64_t>(n), 0,
                                              int(sizeof(K) * 8), stream) == cudaSuccess &&
         cudaStreamSynchronize(stream) == cudaSuccess;
    if (!ok) state.SkipWithError("cub::DeviceRadixSort failed");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(K)));
  keys_rate(state, n);
  cudaFree(keys);
  cudaFree(alt);
  cudaFree(pristine);
  cudaFree(temp);
  if (stream != nullptr) cudaStreamDestroy(stream);
}
BENCHMARK(cub_sort<std::int32_t>)->UseRealTime();
BENCHMARK(cub_sort<std::int64_t>)->UseRealTime();
BENCHMARK_CAPTURE(shard_sort_int32, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
BENCHMARK_CAPTURE(shard_sort_int64, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
BENCHMARK_CAPTURE(shard_sort_pairs, cuda, shard::backend::cuda)->SHARD_BENCH_SHARDS->UseRealTime();
#endif
}  // namespace

BENCHMARK_MAIN();
