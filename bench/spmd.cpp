// SPMD across processes against one process (host backend): sort of 2^24 int32 and reduce of
// 2^25 floats, on 2 shards either way. Run it twice:
//   mpirun -np 1 bench_spmd      # 1 rank x 2 shards (spmd_*), and the plain context (single_*)
//   mpirun -np 2 bench_spmd      # 2 ranks x 1 shard (spmd_*)
// Collective: every rank runs the same benchmarks with a fixed iteration count (Google
// Benchmark's own choice of iterations could differ between ranks); rank 0 reports. The
// counters give the bytes moved between shards per iteration, every rank's summed
// (context::global_stats), which must be the same in both layouts.
// SHARD_BENCH_N scales both sizes down (smoke runs: the sort's n, the reduce's 2n).
#include <shard/mpi.hpp>
#include <shard/reduce.hpp>
#include <shard/sort.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

std::size_t sort_elements() {
  const char* text = std::getenv("SHARD_BENCH_N");
  return text != nullptr && *text != '\0' ? std::stoull(text) : std::size_t{1} << 24;
}

int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

/// 2 shards in all: split over the ranks (spmd), or one process's host(2) (single).
shard::context make(bool spmd) {
  if (!spmd) return shard::context::host(2);
  return shard::mpi::context(MPI_COMM_WORLD, shard::context::host(world_size() == 1 ? 2 : 1));
}

void counters(benchmark::State& state, const shard::context& ctx, double bytes) {
  const auto st = ctx.global_stats();  // collective
  const double it = static_cast<double>(state.iterations());
  state.counters["ranks"] = ctx.ranks();
  state.counters["shards"] = static_cast<double>(ctx.size());
  state.counters["between_shards_B"] = static_cast<double>(st.bytes_between_shards()) / it;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes * it));
}

void sort(benchmark::State& state, bool spmd) {
  const std::size_t n = sort_elements();
  auto ctx = make(spmd);
  std::vector<int> host(n);
  std::mt19937 rng(7);
  for (auto& x : host) x = static_cast<int>(rng());
  shard::vector<int> input(ctx, host);
  ctx.reset_stats();
  for (auto _ : state) {
    state.PauseTiming();
    shard::vector<int> v(input);  // collective; its copies are not timed nor counted between shards
    state.ResumeTiming();
    shard::sort(v);
  }
  counters(state, ctx, static_cast<double>(n * sizeof(int)));
}

void reduce(benchmark::State& state, bool spmd) {
  const std::size_t n = 2 * sort_elements();
  auto ctx = make(spmd);
  shard::vector<float> v(ctx, n, 0.5f);
  ctx.reset_stats();
  float sum = 0;
  for (auto _ : state) benchmark::DoNotOptimize(sum = shard::reduce(v));
  counters(state, ctx, static_cast<double>(n * sizeof(float)));
}

/// Rank 0 reports; the others run the same benchmarks silently.
class silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  benchmark::Initialize(&argc, argv);
  benchmark::RegisterBenchmark("spmd_sort_int32", sort, true)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("spmd_reduce_float", reduce, true)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();
  if (world_size() == 1) {
    benchmark::RegisterBenchmark("single_sort_int32", sort, false)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark("single_reduce_float", reduce, false)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  if (rank == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    silent quiet;
    benchmark::RunSpecifiedBenchmarks(&quiet);
  }
  benchmark::Shutdown();
  MPI_Finalize();
  return 0;
}
