#pragma once
// Shared by the benchmarks: problem size, contexts, and the GPU probe.
#include <shard/shard.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace bench {

/// Elements per benchmark: SHARD_BENCH_N, default 1 << 24 (CI smoke-runs a tiny size).
inline std::size_t elements() {
  const char* text = std::getenv("SHARD_BENCH_N");
  return text != nullptr && *text != '\0' ? std::stoull(text) : std::size_t{1} << 24;
}

inline int gpus() { return shard::context::cuda_device_count(); }

/// True (and the benchmark marked skipped) when it needs a GPU and there is none.
inline bool skipped_without_gpu(benchmark::State& state, shard::backend kind = shard::backend::cuda) {
  if (kind != shard::backend::cuda || gpus() > 0) return false;
  state.SkipWithError("no GPU");
  return true;
}

/// g shards of the backend under test: emulated devices, or GPUs round-robin (several shards
/// per GPU when g exceeds the GPU count).
inline shard::context make_context(shard::backend kind, std::size_t g) {
  if (kind == shard::backend::host) return shard::context::host(g);
  return shard::context::cuda_round_robin(g);
}

/// Records the figures of one algorithm call per iteration from the context's stats.
inline void report(benchmark::State& state, const shard::context& ctx, double bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
  const auto st = ctx.stats();
  const double it = static_cast<double>(state.iterations() > 0 ? state.iterations() : 1);
  state.counters["shards"] = static_cast<double>(ctx.size());
  state.counters["xshard_B"] = static_cast<double>(st.bytes_between_shards()) / it;
  state.counters["to_host_B"] = static_cast<double>(st.bytes_to_host()) / it;
  state.counters["syncs"] = static_cast<double>(st.host_syncs) / it;
}

}  // namespace bench

#define SHARD_BENCH_SHARDS Arg(1)->Arg(2)->Arg(4)->Arg(8)
