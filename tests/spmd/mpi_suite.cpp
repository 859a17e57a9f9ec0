// The SPMD suite and its error cases under mpirun: spmd_mpi <mode> [shards per rank].
//   suite <k|mixed>     every algorithm, against std:: and one process bit for bit (k host
//                       shards per rank; mixed: rank r has r + 1)
//   automatic           shard::mpi::context(comm) choosing this rank's shards
//   subcommunicators    two halves of the world and the world itself, three contexts at once
//   errors              differing arguments, a failure and out of memory on one rank
//   stuck               the last rank stops answering: the others time out
//   dead                the last rank dies: MPI ends the job
//   nccl_given          (nvcc with NCCL) the application's NCCL communicators: refused on
//                       every rank where a rank's are wrong or the shards are not GPUs; with
//                       a GPU per rank, the suite on them, then destroyed by the application
// Exit code 0 when every check held on every rank.
#include <shard/failover.hpp>
#include <shard/mpi.hpp>
#include <shard/testing.hpp>
#if SHARD_HAS_NCCL
#  include <shard/nccl.hpp>
#endif

#include "suite.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

namespace {

int rank_of_world() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

/// Sums `local` failures over the world; rank 0 prints the summary. Returns the exit code.
int summarise(const char* what, std::size_t checks, const std::vector<std::string>& failures) {
  for (std::size_t i = 0; i < failures.size() && i < 20; ++i) std::cerr << failures[i] << '\n';
  unsigned long long mine[2] = {checks, failures.size()}, all[2] = {0, 0};
  MPI_Allreduce(mine, all, 2, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (rank_of_world() == 0)
    std::cout << what << ": " << world_size() << " ranks: " << all[0] << " checks, " << all[1] << " failed" << std::endl;
  return all[1] == 0 ? 0 : 1;
}

int suite(const std::string& shards) {
  const int r = rank_of_world();
  const std::size_t k = shards == "mixed" ? static_cast<std::size_t>(r) + 1 : std::stoul(shards);
  const shard::context ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(k));
  const auto report = spmd_test::run_suite(ctx);
  return summarise(("suite (" + shards + " shards per rank)").c_str(), report.checks, report.failures);
}

int automatic() {
  spmd_test::report r;
  r.rank = rank_of_world();
  const shard::context ctx = shard::mpi::context(MPI_COMM_WORLD);
  r.check(ctx.ranks() == world_size() && ctx.rank() == r.rank, "ranks");
  r.check(ctx.local_shards().size() == shard::context::host_devices_from_environment(), "SHARD_HOST_DEVICES shards");
  shard::vector<int> v(ctx, 1000, 2);
  r.check(shard::reduce(v) == 2000, "reduce");
  return summarise("automatic", r.checks, r.failures);
}

int subcommunicators() {
  spmd_test::report r;
  r.rank = rank_of_world();
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, r.rank % 2, r.rank, &half);
  {
    const shard::context world = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(1));
    const shard::context mine = shard::mpi::context(half, shard::context::host(2));
    const int group = r.rank % 2;
    std::vector<int> data(5000);
    std::iota(data.begin(), data.end(), group * 100000);
    shard::vector<int> h(mine, data);
    std::vector<int> common(7000, 1);
    shard::vector<int> w(world, common);
    shard::sort(h, shard::greater<>{});
    r.check(shard::reduce(w) == 7000, "the world's reduce");
    r.check(h.get(0) == group * 100000 + 4999, "each half sorted its own data");
    r.check(mine.ranks() * 2 == world.ranks() + (world.ranks() % 2 == 1 && group == 0 ? 1 : 0), "the halves' sizes");
  }
  MPI_Comm_free(&half);
  return summarise("subcommunicators", r.checks, r.failures);
}

/// Failover across processes: rank 1's only shard faults in a sort; the ranks carry on over
/// the survivors (rank 1 with no shard), salvage, read the lost range again, finish the sort
/// and run the whole suite.
int failover() {
  spmd_test::report r;
  r.rank = rank_of_world();
  shard::context ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(1));
  ctx.set_wait_timeout(std::chrono::seconds(60));
  std::vector<int> source(50021);
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<int>((i * 7919) % 50021);
  auto sorted = source;
  std::sort(sorted.begin(), sorted.end());
  shard::vector<int> v(ctx, source);
  if (r.rank == 1) shard::testing::inject_device_fault(ctx, ctx.local_shards()[0], 2);
  bool threw = false;
  try {
    shard::sort(v);
  } catch (const shard::error&) {
    threw = true;
  }
  r.check(threw == (world_size() > 1), "the sort failed on every rank");
  if (world_size() > 1) {
    r.check(ctx.faulted_shards() == std::vector<std::size_t>{1}, "every rank knows the faulted shard");
    const shard::context survivors = ctx.survivors();
    r.check(survivors.local_shards().size() == (r.rank == 1 ? 0u : 1u), "rank 1 has no shard left");
    auto [w, lost] = shard::salvage(v, survivors);
    for (const auto& range : lost)
      shard::copy(std::span<const int>(source.data() + range.first, range.size()), w, range.first);
    shard::sort(w);
    r.check(w.to_host() == sorted, "the sort finished on the survivors");
    const auto suite = spmd_test::run_suite(survivors);
    r.checks += suite.checks;
    r.failures.insert(r.failures.end(), suite.failures.begin(), suite.failures.end());
  }
  return summarise("failover", r.checks, r.failures);
}

template <class Exception, class F>
bool throws(F&& f) {
  try {
    f();
  } catch (const Exception&) {
    return true;
  } catch (...) {
    return false;
  }
  return false;
}

int errors() {
  spmd_test::report r;
  r.rank = rank_of_world();
  const int last = world_size() - 1;
  {
    shard::host_options options;
    options.memory_per_shard = r.rank == last ? (1u << 20) : 0;
    auto ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(2, options));
    ctx.set_wait_timeout(std::chrono::seconds(30));
    r.check(throws<shard::invalid_argument>([&] {
              shard::vector<int> v(ctx, r.rank == 0 ? 100 : 200);
              shard::sort(v);
            }),
            "different sizes: invalid_argument on every rank");
    std::vector<int> data(20000);
    std::iota(data.rbegin(), data.rend(), 0);
    shard::vector<int> v(ctx, data), out(ctx, 0);
    if (r.rank == last) shard::testing::fail_primitive(ctx, ctx.local_shards()[0], 1);
    r.check(throws<shard::error>([&] { (void)shard::copy_if(v, out, spmd_test::is_even{}); }),
            "a failure on one rank: every rank throws");
    r.check(v.to_host() == data, "the input is intact");
    r.check(throws<shard::error>([&] { shard::vector<double> big(ctx, std::size_t{1} << 20, 1.0); }),
            "out of memory on one rank: every rank throws");
    shard::sort(v);
    r.check(v.get(0) == 0 && v.get(19999) == 19999, "the context works afterwards");
  }
  return summarise("errors", r.checks, r.failures);
}

#if SHARD_HAS_NCCL
int nccl_given() {
  spmd_test::report r;
  r.rank = rank_of_world();
  const int last = world_size() - 1;
  {
    // Emulated shards: NCCL cannot serve them, every rank hears so.
    const auto ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(1));
    r.check(throws<shard::invalid_argument>([&] { shard::nccl::use_communicators(ctx, {nullptr}); }),
            "host shards: invalid_argument on every rank");
    r.check(!shard::nccl::uses_given_communicators(ctx), "host shards: none used");
    shard::vector<int> v(ctx, 1000, 2);
    r.check(shard::reduce(v) == 2000, "the context works afterwards");
  }
  const int gpus = shard::context::cuda_device_count();
  int enough = 0, mine = gpus > 0 && r.rank < gpus ? 1 : 0;
  MPI_Allreduce(&mine, &enough, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (enough == 1) {
    // One GPU per rank: the application's communicator of all ranks, NCCL rank = shard index.
    ncclUniqueId id{};
    if (r.rank == 0) r.check(ncclGetUniqueId(&id) == ncclSuccess, "ncclGetUniqueId");
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclComm_t comm = nullptr;
    r.check(cudaSetDevice(r.rank) == cudaSuccess, "cudaSetDevice");
    // Non-blocking, as docs/multi-node.md advises: use_communicators waits for it to be ready.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t init = ncclCommInitRankConfig(&comm, world_size(), id, r.rank, &config);
    r.check(init == ncclSuccess || init == ncclInProgress, "ncclCommInitRankConfig");
    int ready = init == ncclSuccess || init == ncclInProgress ? 1 : 0, all_ready = 0;
    MPI_Allreduce(&ready, &all_ready, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all_ready == 1) {
      const auto ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::cuda({r.rank}));
      r.check(throws<shard::invalid_argument>([&] { shard::nccl::use_communicators(ctx, {r.rank == last ? nullptr : comm}); }),
              "one rank's null communicator: invalid_argument on every rank");
      shard::nccl::use_communicators(ctx, {comm});
      r.check(shard::nccl::uses_given_communicators(ctx), "the application's communicator in use");
      const auto report = spmd_test::run_suite(ctx);
      r.checks += report.checks;
      r.failures.insert(r.failures.end(), report.failures.begin(), report.failures.end());
      r.check(shard::nccl::uses_given_communicators(ctx), "still in use after the suite");
    }
    // Revoked or not, the communicator is the application's to destroy.
    if (comm != nullptr) {
      const ncclResult_t destroyed = ncclCommDestroy(comm);  // non-blocking: may still be in progress
      r.check(destroyed == ncclSuccess || destroyed == ncclInProgress, "the application destroys its communicator");
    }
  } else if (r.rank == 0) {
    std::cout << "nccl_given: no GPU for every rank: the GPU part did not run" << std::endl;
  }
  return summarise("nccl_given", r.checks, r.failures);
}
#endif

[[noreturn]] void stuck() {
  const int r = rank_of_world(), last = world_size() - 1;
  auto ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(1));
  ctx.set_wait_timeout(std::chrono::milliseconds(500));
  shard::vector<float> v(ctx, 1000, 1.0f);
  int timed_out = 0;
  if (r != last) {
    const auto start = std::chrono::steady_clock::now();
    try {
      (void)shard::reduce(v);
    } catch (const shard::timeout& e) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << "rank " << r << ": shard::timeout after " << s << " s: " << e.what() << '\n';
      timed_out = s < 5 ? 1 : 0;
    }
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(2));  // never calls reduce
  }
  // The world communicator still works (shard's own is a duplicate).
  int all = 0;
  MPI_Reduce(&timed_out, &all, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  if (r == 0) std::cout << "stuck: " << all << " of " << last << " ranks timed out" << std::endl;
  // Messages of the abandoned call are pending: end the job as an application would.
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Abort(MPI_COMM_WORLD, all == last ? 0 : 1);
  std::abort();
}

[[noreturn]] void dead() {
  const int r = rank_of_world(), last = world_size() - 1;
  auto ctx = shard::mpi::context(MPI_COMM_WORLD, shard::context::host(1));
  ctx.set_wait_timeout(std::chrono::seconds(30));
  shard::vector<float> v(ctx, 1000, 1.0f);
  if (r == last) std::_Exit(3);  // dies without a word
  (void)shard::reduce(v);        // the job is ended by mpirun, or this times out
  std::cerr << "rank " << r << ": reduce returned after a rank died\n";
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::string mode = argc > 1 ? argv[1] : "suite";
  int rc = 2;
  try {
    if (mode == "suite") rc = suite(argc > 2 ? argv[2] : "1");
    else if (mode == "automatic") rc = automatic();
    else if (mode == "subcommunicators") rc = subcommunicators();
    else if (mode == "errors") rc = errors();
    else if (mode == "failover") rc = failover();
    else if (mode == "stuck") stuck();
    else if (mode == "dead") dead();
#if SHARD_HAS_NCCL
    else if (mode == "nccl_given") rc = nccl_given();
#endif
    else std::cerr << "unknown mode " << mode << '\n';
  } catch (const std::exception& e) {
    std::cerr << "rank " << rank_of_world() << ": " << e.what() << '\n';
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return rc;
}
