// mpi_sort_reduce: shard across processes (and machines). Every rank of MPI_COMM_WORLD takes
// its shards (its node-local GPU, or SHARD_HOST_DEVICES emulated devices without GPUs), the
// ranks build one vector together, sort it and reduce it, and check both against std:: on
// every rank; rank 0 prints the times and the bytes every rank moved (docs/multi-node.md).
//
//   mpirun -np 4 mpi_sort_reduce [elements]      (default 16M)
#include <shard/mpi.hpp>
#include <shard/reduce.hpp>
#include <shard/sort.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int failed = 0;
  try {
    const std::size_t n = argc > 1 ? std::stoull(argv[1]) : std::size_t{16} << 20;
    shard::context ctx = shard::mpi::context(MPI_COMM_WORLD);  // collective
    if (ctx.rank() == 0) {
      std::printf("mpi_sort_reduce: %zu elements on %zu shards of %d ranks (%s backend)\n", n, ctx.size(), ctx.ranks(),
                  ctx.kind() == shard::backend::cuda ? "CUDA" : "host");
      for (std::size_t s = 0; s < ctx.size(); ++s)
        std::printf("  shard %zu: rank %d on %s, device %d\n", s, ctx.rank_of(s), ctx.topology().shards[s].host.c_str(),
                    ctx.device(s));
    }
    // Every rank makes the same data; each keeps its own segments of it.
    std::vector<std::int32_t> host(n);
    std::mt19937 rng(2026);
    for (auto& x : host) x = static_cast<std::int32_t>(rng() % 2000001) - 1000000;
    shard::vector<std::int32_t> v(ctx, host);  // collective

    ctx.reset_stats();
    auto start = std::chrono::steady_clock::now();
    const std::int64_t sum = shard::reduce(v, std::int64_t{0}, shard::plus<>{});  // on every rank
    const double reduce_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    shard::sort(v);
    const double sort_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const shard::stats all = ctx.global_stats();  // collective: every rank's counters summed

    const bool sum_ok = sum == std::accumulate(host.begin(), host.end(), std::int64_t{0});
    std::sort(host.begin(), host.end());
    const bool sort_ok = v.to_host() == host;  // collective: every element on every rank
    failed = sum_ok && sort_ok ? 0 : 1;
    if (ctx.rank() == 0)
      std::printf("reduce %-4s %9.3f ms\nsort   %-4s %9.3f ms   between shards %llu B (all ranks), host syncs %llu\n",
                  sum_ok ? "ok" : "FAIL", reduce_ms, sort_ok ? "ok" : "FAIL", sort_ms,
                  static_cast<unsigned long long>(all.bytes_between_shards()),
                  static_cast<unsigned long long>(all.host_syncs));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_sort_reduce: %s\n", e.what());
    failed = 1;
  }
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
