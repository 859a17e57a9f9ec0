#pragma once
/// @file mpi.hpp
/// shard across processes and nodes over MPI (CMake target shard::mpi, which adds
/// MPI::MPI_CXX): shard::mpi::context makes an SPMD context (context::spmd) whose ranks are
/// those of an MPI communicator. MPI starts the processes (mpirun, srun) and carries the
/// bytes between ranks: metadata and outcomes by MPI_Iallgatherv, elements by
/// MPI_Isend/MPI_Irecv, every wait polled under the context's deadline. Not part of
/// <shard/shard.hpp>; usable from g++ and nvcc translation units. docs/multi-node.md.
///
///     MPI_Init(&argc, &argv);
///     {
///       shard::context ctx = shard::mpi::context(MPI_COMM_WORLD);
///       shard::vector<float> v(ctx, n);   // collective: same n on every rank
///       shard::sort(v);                   // collective
///     }                                   // contexts go before MPI_Finalize
///     MPI_Finalize();
#include <shard/config.hpp>
#include <shard/communicator.hpp>
#include <shard/context.hpp>
#include <shard/core/device.hpp>
#include <shard/error.hpp>

#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#  include <mpi-ext.h>  // Open MPI's extensions: MPIX_Query_cuda_support
#endif

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace mpi {

namespace detail_mpi {

inline std::string describe(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

inline void check(int code, const char* call) {
  if (code != MPI_SUCCESS) throw error(std::string(call) + " failed: " + describe(code));
}

/// Waits for every request until `deadline`, polling MPI_Testall (MPI progresses inside
/// it; detail::poll_until, with at most 200 us between polls). Returns false past the
/// deadline (the requests stay pending). `statuses`: one per request, or null.
inline bool wait_all(std::vector<MPI_Request>& requests, std::chrono::steady_clock::time_point deadline,
                     MPI_Status* statuses) {
  if (requests.empty()) return true;
  return detail::poll_until(
      [&] {
        int done = 0;
        check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done,
                          statuses != nullptr ? statuses : MPI_STATUSES_IGNORE),
              "MPI_Testall");
        return done != 0;
      },
      deadline, std::chrono::microseconds(200));
}

}  // namespace detail_mpi

/// Messages above this size are split: Open MPI 4.1 has no MPI-4 large-count calls, and an
/// int count of bytes stops at 2^31 - 1.
inline constexpr std::size_t max_message_bytes = std::size_t{1} << 30;

/// shard::communicator over a duplicate of an MPI communicator (so that shard's messages never
/// match the application's), with MPI_ERRORS_RETURN on it: MPI failures become shard::error.
class communicator final : public shard::communicator {
 public:
  /// Duplicates `comm` (collective over it, and like MPI_Comm_dup without a deadline: every
  /// rank of `comm` must make it). MPI must be initialised.
  explicit communicator(MPI_Comm comm) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) throw invalid_argument("shard::mpi::communicator: MPI is not initialised (call MPI_Init first)");
    if (comm == MPI_COMM_NULL) throw invalid_argument("shard::mpi::communicator: the communicator is MPI_COMM_NULL");
    detail_mpi::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(name, &length);
    host_.assign(name, static_cast<std::size_t>(length));
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
    const char* opt_in = std::getenv("SHARD_MPI_CUDA_AWARE");
    device_memory_ = opt_in != nullptr && std::string(opt_in) == "1" && MPIX_Query_cuda_support() == 1;
#endif
  }
  ~communicator() override {
    // MPI_Comm_free does not wait for pending operations (they complete, or are abandoned, as
    // MPI sees fit); after a deadline this rank skips it, as its peers may never free theirs.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && !aborted_) MPI_Comm_free(&comm_);
  }
  communicator(const communicator&) = delete;
  communicator& operator=(const communicator&) = delete;

  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }
  std::string host_name() const override { return host_; }
  /// The duplicated communicator shard sends on.
  MPI_Comm handle() const noexcept { return comm_; }

  /// Past the deadline the pending sends and receives are cancelled and waited for (MPI
  /// guarantees that a wait on a cancelled request returns), so no buffer of the caller is
  /// touched after this returns; the communicator is then unusable (messages may be lost).
  bool exchange(const std::vector<outgoing>& sends, const std::vector<incoming>& receives,
                time_point deadline) override {
    require_usable();
    std::vector<MPI_Request> requests;
    std::vector<std::size_t> expected;  // bytes of each receive piece; sends follow them
    try {
      for (const auto& m : receives) post(m.peer, m.data, m.bytes, false, requests, &expected);
      for (const auto& m : sends) post(m.peer, const_cast<void*>(m.data), m.bytes, true, requests, nullptr);
    } catch (...) {
      cancel(requests);
      throw;
    }
    std::vector<MPI_Status> statuses(requests.size());
    bool done = false;
    try {
      done = detail_mpi::wait_all(requests, deadline, statuses.data());
    } catch (...) {
      cancel(requests);
      throw;
    }
    if (!done) {
      cancel(requests);
      return false;
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
      int count = 0;
      MPI_Get_count(&statuses[i], MPI_BYTE, &count);
      if (static_cast<std::size_t>(count) != expected[i]) {
        aborted_ = true;
        throw error("shard::mpi: rank " + std::to_string(rank_) + " received " + std::to_string(count) +
                    " bytes from rank " + std::to_string(statuses[i].MPI_SOURCE) + " where " +
                    std::to_string(expected[i]) + " were expected (the ranks' calls differ)");
      }
    }
    return true;
  }

  /// MPI_Iallgatherv into storage of its own (in place on every rank), copied out once it
  /// completes: a collective cannot be cancelled, so past the deadline its buffer is left to
  /// MPI (never freed) and the caller's memory is never written.
  bool all_gather_v(const void* mine, void* all, const std::vector<std::size_t>& bytes, time_point deadline) override {
    require_usable();
    std::size_t total = 0;
    for (auto b : bytes) total += b;
    if (total > static_cast<std::size_t>(INT_MAX)) return shard::communicator::all_gather_v(mine, all, bytes, deadline);
    std::vector<int> counts(bytes.size()), displacements(bytes.size());
    int at = 0;
    for (std::size_t r = 0; r < bytes.size(); ++r) {
      counts[r] = static_cast<int>(bytes[r]);
      displacements[r] = at;
      at += counts[r];
    }
    auto buffer = std::make_unique<char[]>(total == 0 ? 1 : total);
    if (bytes[rank_] != 0) std::memcpy(buffer.get() + displacements[rank_], mine, bytes[rank_]);
    std::vector<MPI_Request> request(1);
    const int status = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_BYTE, buffer.get(), counts.data(), displacements.data(),
                                       MPI_BYTE, comm_, request.data());
    if (status != MPI_SUCCESS) {
      aborted_ = true;
      detail_mpi::check(status, "MPI_Iallgatherv");
    }
    bool done = false;
    try {
      done = detail_mpi::wait_all(request, deadline, nullptr);
    } catch (...) {
      aborted_ = true;
      (void)buffer.release();  // MPI may still write it
      throw;
    }
    if (!done) {
      aborted_ = true;
      (void)buffer.release();
      return false;
    }
    if (total != 0) std::memmove(all, buffer.get(), total);
    return true;
  }

  void abort() noexcept override { aborted_ = true; }
  /// Whether GPU memory goes to MPI directly: only when SHARD_MPI_CUDA_AWARE=1 and Open MPI's
  /// MPIX_Query_cuda_support() agrees (the query alone can be wrong either way with UCX, so
  /// the default stages GPU bytes through pinned host memory).
  bool device_memory() const noexcept override { return device_memory_; }

 private:
  void require_usable() const {
    if (aborted_)
      throw error("shard::mpi: rank " + std::to_string(rank_) +
                  ": the communicator gave up on earlier messages (a deadline or an MPI error); create a new context");
  }

  /// Cancels and completes every request (bounded: a wait on a cancelled request returns),
  /// and marks the communicator unusable.
  void cancel(std::vector<MPI_Request>& requests) noexcept {
    aborted_ = true;
    for (auto& r : requests)
      if (r != MPI_REQUEST_NULL) MPI_Cancel(&r);
    if (!requests.empty()) MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
  }

  /// One message as pieces of at most max_message_bytes, in order (MPI keeps the order of
  /// messages between two ranks on one communicator and tag).
  void post(int peer, void* data, std::size_t bytes, bool send, std::vector<MPI_Request>& requests,
            std::vector<std::size_t>* expected) {
    char* p = static_cast<char*>(data);
    std::size_t offset = 0;
    do {
      const int n = static_cast<int>(std::min(max_message_bytes, bytes - offset));
      MPI_Request r;
      if (send)
        detail_mpi::check(MPI_Isend(p + offset, n, MPI_BYTE, peer, tag, comm_, &r), "MPI_Isend");
      else
        detail_mpi::check(MPI_Irecv(p + offset, n, MPI_BYTE, peer, tag, comm_, &r), "MPI_Irecv");
      requests.push_back(r);
      if (expected != nullptr) expected->push_back(static_cast<std::size_t>(n));
      offset += static_cast<std::size_t>(n);
    } while (offset < bytes);
  }

  static constexpr int tag = 0x5a;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::string host_;
  bool aborted_ = false;
  bool device_memory_ = false;
};

/// This rank's index among the ranks of `comm` on its machine (MPI_Comm_split_type with
/// MPI_COMM_TYPE_SHARED), and their number.
inline std::pair<int, int> node_rank(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  detail_mpi::check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int rank = 0, size = 1;
  MPI_Comm_rank(node, &rank);
  MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  return {rank, size};
}

/// An SPMD context over the ranks of `comm`, this rank's shards being those of `local` (any
/// single-process context). Collective over `comm`. See context::spmd.
inline shard::context context(MPI_Comm comm, const shard::context& local) {
  return shard::context::spmd(std::make_shared<communicator>(comm), local);
}

/// An SPMD context over the ranks of `comm`, each rank choosing its shards: `gpus_per_rank`
/// GPUs from (node-local rank x gpus_per_rank) on, modulo the visible GPUs, where there are
/// GPUs (and this translation unit has CUDA); SHARD_HOST_DEVICES emulated shards otherwise
/// (context::automatic's count). Collective. Throws invalid_argument for gpus_per_rank < 1.
inline shard::context context(MPI_Comm comm, int gpus_per_rank = 1) {
  if (gpus_per_rank < 1) throw invalid_argument("shard::mpi::context: gpus_per_rank must be at least 1");
  const auto comm_ptr = std::make_shared<communicator>(comm);
  const int local_rank = node_rank(comm).first;  // collective: before any rank-dependent branch
  const int gpus = shard::context::cuda_device_count();
  if (gpus == 0) return shard::context::spmd(comm_ptr, shard::context::host(shard::context::host_devices_from_environment()));
  std::vector<int> ordinals;
  for (int i = 0; i < gpus_per_rank; ++i) ordinals.push_back((local_rank * gpus_per_rank + i) % gpus);
  return shard::context::spmd(comm_ptr, shard::context::cuda(ordinals));
}

}  // namespace mpi
SHARD_NAMESPACE_END
