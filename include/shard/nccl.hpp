#pragma once
/// @file nccl.hpp
/// The application's own NCCL communicators for a context (CMake target shard::nccl, in a
/// CUDA translation unit; NCCL 2.28.7 or later). Not part of <shard/shard.hpp>.
/// docs/multi-node.md.
///
///     std::vector<ncclComm_t> comms(2);
///     int gpus[2] = {0, 1};
///     ncclCommInitAll(comms.data(), 2, gpus);                 // the application's, as it likes
///     {
///       shard::context ctx = shard::context::cuda({0, 1});
///       shard::nccl::use_communicators(ctx, comms);           // shard's NCCL work goes on them
///       ...                                                   // algorithms as usual
///     }                                                       // the context (and its vectors) end first
///     for (auto c : comms) ncclCommDestroy(c);                // the application destroys them, always
///
/// In a single-process context the communicators are one per shard (NCCL rank = shard index)
/// and carry the collectives and all-to-all; in an SPMD context (shard::mpi::context) they are
/// one per shard of this rank, in local_shards() order, each of all G shards (NCCL rank = the
/// global shard index), and carry the transfers between ranks. Blocking or non-blocking
/// (config.blocking = 0, which keeps the context's deadline: with blocking ones a missing
/// rank can hold ncclGroupEnd itself); one kind for all of them. shard never frees them.
/// Where shard would abort its own communicators (NCCL reported an error, a wait passed the
/// deadline, or, in an SPMD context, a step failed on some rank for a reason other than an
/// argument check) it revokes these (ncclCommRevoke: their in-flight work stops) and stops
/// using them: uses_given_communicators() turns false, the context's next NCCL work makes
/// communicators of its own, and the application still destroys them after the context.
#include <shard/config.hpp>

#if !SHARD_HAS_NCCL
#  error "<shard/nccl.hpp> needs a CUDA translation unit (nvcc) built with NCCL (CMake target shard::nccl)"
#endif
#include <nccl.h>
#if NCCL_VERSION_CODE < NCCL_VERSION(2, 28, 7)
#  error "<shard/nccl.hpp> needs NCCL 2.28.7 or later (ncclCommRevoke ends a given communicator's work without freeing it)"
#endif

#include <shard/context.hpp>
#include <shard/core/run.hpp>
#include <shard/error.hpp>
#include <shard/transport/engines/nccl.hpp>
#include <shard/transport/engines/nccl_ranks.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace nccl {

namespace detail_nccl {

/// Why `comm` cannot serve as NCCL rank `rank` of `ranks` on device `device`; empty when it can.
inline std::string mismatch(ncclComm_t comm, std::size_t index, int ranks, int rank, int device,
                            std::chrono::steady_clock::time_point deadline) {
  const std::string which = "communicator " + std::to_string(index);
  if (comm == nullptr) return which + " is null";
  // A non-blocking communicator may still be initialising: it is queried once ready.
  ncclResult_t status = ncclSuccess;
  const std::size_t at = transport::nccl::settle_all({comm}, deadline, &status);
  if (at == 0)
    return which + " reports NCCL error " + std::to_string(static_cast<int>(status)) + " (" + ncclGetErrorString(status) + ")";
  if (at > 1) return which + " was still in progress (ncclInProgress) at the context's wait deadline";
  int count = 0, user_rank = 0, cu_device = 0;
  if (ncclCommCount(comm, &count) != ncclSuccess || ncclCommUserRank(comm, &user_rank) != ncclSuccess ||
      ncclCommCuDevice(comm, &cu_device) != ncclSuccess)
    return which + " cannot be queried (ncclCommCount, ncclCommUserRank, ncclCommCuDevice failed)";
  if (count != ranks) return which + " has " + std::to_string(count) + " ranks, the context " + std::to_string(ranks) + " shards";
  if (user_rank != rank)
    return which + " is NCCL rank " + std::to_string(user_rank) + " where shard " + std::to_string(rank) + " needs rank " +
           std::to_string(rank);
  if (cu_device != device)
    return which + " is on GPU " + std::to_string(cu_device) + ", shard " + std::to_string(rank) + " on GPU " +
           std::to_string(device);
  return {};
}

}  // namespace detail_nccl

/// Hands `ctx` the application's NCCL communicators (file comment): in a single-process
/// context one per shard, NCCL rank s on shard s's GPU; in an SPMD context one per local shard
/// (local_shards() order), each of ctx.size() ranks, NCCL rank = that shard's global index.
/// They must outlive the context, or its next successful use_communicators call. Collective in an SPMD
/// context (every rank calls it; every rank throws when one rank's communicators are wrong).
/// Throws invalid_argument when the context's shards are not CUDA shards on distinct GPUs
/// (NCCL's condition), when the number of communicators is not the number of (local) shards,
/// or when one has the wrong rank count, rank or GPU, naming it.
inline void use_communicators(const shard::context& ctx, const std::vector<ncclComm_t>& comms) {
  auto& impl = ctx.impl();
  const shard::detail::call_scope scope(impl, "shard::nccl::use_communicators");
  impl.require_usable();
  std::string wrong;
  std::vector<int> devices;
  const bool spmd = impl.spmd();
  const char* off = std::getenv("SHARD_NCCL_ACROSS_RANKS");
  if (spmd && off != nullptr && std::string(off) == "0") {
    wrong = "SHARD_NCCL_ACROSS_RANKS=0 keeps NCCL off the transfers between ranks";
  } else if (spmd ? !transport::nccl_ranks::usable(impl) : !transport::nccl::usable(impl)) {
    wrong = spmd ? "the context's shards are not CUDA shards on distinct GPUs, which NCCL needs"
                 : "the context's shards are not two or more CUDA shards on distinct GPUs, which NCCL needs";
  } else {
    const std::vector<std::size_t>& local = impl.local_shards();
    if (comms.size() != local.size())
      wrong = std::to_string(comms.size()) + " communicators given for " + std::to_string(local.size()) +
              (spmd ? " shards on this rank" : " shards");
    for (std::size_t i = 0; wrong.empty() && i < local.size(); ++i) {
      const int device = impl.dev(local[i]).ordinal();
      devices.push_back(device);
      wrong = detail_nccl::mismatch(comms[i], i, static_cast<int>(impl.size()), static_cast<int>(local[i]), device,
                                    impl.deadline());
    }
  }
  std::exception_ptr failure;
  if (!wrong.empty()) failure = std::make_exception_ptr(invalid_argument("shard::nccl::use_communicators: " + wrong));
  impl.agree(failure, impl.step_shape("the communicators' checks"));  // rethrows this rank's failure, or another's
  impl.reset_collective_engine();  // shard's own communicators, if any, are destroyed
  if (spmd)
    impl.set_collective_engine(std::make_shared<transport::nccl_ranks::communicators>(transport::nccl::given, impl, comms));
  else
    impl.set_collective_engine(std::make_shared<transport::nccl::communicators>(transport::nccl::given, comms, devices));
}

/// Whether `ctx`'s NCCL work still goes on communicators given by use_communicators: false
/// before that call, and after shard revoked them (file comment).
inline bool uses_given_communicators(const shard::context& ctx) {
  const auto turn = ctx.impl().exclusive();
  const auto& engine = ctx.impl().engine();
  if (engine == nullptr || engine->aborted()) return false;
  if (const auto* c = dynamic_cast<const transport::nccl::communicators*>(engine.get())) return c->given();
  if (const auto* c = dynamic_cast<const transport::nccl_ranks::communicators*>(engine.get())) return c->given();
  return false;
}

}  // namespace nccl
SHARD_NAMESPACE_END
