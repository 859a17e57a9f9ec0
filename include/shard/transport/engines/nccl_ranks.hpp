#pragma once
/// @file transport/engines/nccl_ranks.hpp
/// NCCL between the ranks of an SPMD context (transport/ranks.hpp uses it for the exchanges'
/// transfers between ranks when every shard is a distinct GPU). Compiled only with
/// SHARD_HAS_NCCL; unverified on hardware (no multi-GPU machine has run it).
///
/// - One communicator per local shard, of all G shards (NCCL rank = shard index), made on
///   first use from one ncclUniqueId: rank 0 draws it, the context's communicator carries it
///   to every rank (all_gather_v), and every rank calls ncclCommInitRankConfig for each of
///   its shards in one group, non-blocking (config.blocking = 0), so that the wait for the
///   other ranks is polled under the context's deadline (ncclCommGetAsyncError) instead of
///   blocking in ncclGroupEnd forever when a rank never comes.
/// - An exchange is one group of ncclSend / ncclRecv on the shards' streams, queued like any
///   other work: no host wait (the step's end waits, polling NCCL's errors).
/// - NCCL refuses two ranks on one GPU, and one process's two shards on one GPU: such
///   contexts take the staged path through MPI instead (usable() says which).
#include <shard/config.hpp>

#if SHARD_HAS_NCCL
#  include <shard/backend/cuda/device.hpp>
#  include <shard/core/collective_engine.hpp>
#  include <shard/core/context_impl.hpp>
#  include <shard/error.hpp>
#  include <shard/transport/engines/nccl.hpp>

#  include <nccl.h>

#  include <chrono>
#  include <cstdlib>
#  include <memory>
#  include <set>
#  include <string>
#  include <utility>
#  include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport::nccl_ranks {

/// Whether NCCL can carry this SPMD context's transfers between ranks: CUDA shards, each a
/// GPU of its own (by host name and PCI bus id), and SHARD_NCCL_ACROSS_RANKS not "0".
inline bool usable(const detail::context_impl& ctx) {
  if (ctx.kind() != backend::cuda || !ctx.spmd()) return false;
  const char* off = std::getenv("SHARD_NCCL_ACROSS_RANKS");
  if (off != nullptr && std::string(off) == "0") return false;
  std::set<std::pair<std::string, std::string>> gpus;
  for (const auto& d : ctx.topology().shards) gpus.insert({d.host, d.bus_id});
  return gpus.size() == ctx.size();
}

/// A status that is neither success nor still in progress: an error.
inline bool failed(ncclResult_t status) { return status != ncclSuccess && status != ncclInProgress; }

/// The communicators of this rank's shards, as the context's collective engine (its waits
/// poll it; a deadline or an error aborts it; the next exchange makes new ones).
class communicators final : public detail::collective_engine {
 public:
  /// The application's communicators of this rank's shards (shard::nccl::use_communicators),
  /// ready: never finalised or destroyed by shard.
  communicators(nccl::given_t, detail::context_impl& ctx, std::vector<ncclComm_t> comms)
      : comms_(std::move(comms)), owned_(false) {
    for (auto s : ctx.local_shards()) devices_.push_back(ctx.dev(s).ordinal());
    first_ = ctx.local_shards().empty() ? 0 : ctx.local_shards().front();  // none: a rank left with no shard
  }
  explicit communicators(detail::context_impl& ctx) {
    ncclUniqueId id{};
    if (ctx.rank() == 0) {
      const ncclResult_t status = ncclGetUniqueId(&id);
      if (status != ncclSuccess) nccl::throw_nccl(status, "ncclGetUniqueId", -1, -1, nullptr);
    }
    std::vector<std::size_t> bytes(static_cast<std::size_t>(ctx.ranks()), 0);
    bytes[0] = sizeof(id);
    ctx.communicate("NCCL's unique id", [&](auto deadline) { return ctx.comm().all_gather_v(&id, &id, bytes, deadline); });
    const auto& local = ctx.local_shards();
    comms_.assign(local.size(), nullptr);
    for (auto s : local) devices_.push_back(ctx.dev(s).ordinal());
    first_ = local.empty() ? 0 : local.front();  // none: a rank left with no shard (failover)
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t status = ncclGroupStart();
    if (status != ncclSuccess) nccl::throw_nccl(status, "ncclGroupStart", -1, -1, nullptr);
    bool guarded = true;
    for (std::size_t i = 0; i < local.size() && !failed(status) && guarded; ++i) {
      // A guard that could throw between ncclGroupStart and ncclGroupEnd would leave the
      // group open: the nothrow guard, and a failure ends the loop.
      const cuda_backend::device_guard guard(devices_[i], std::nothrow);
      guarded = guard.ok();
      if (guarded)
        status = ncclCommInitRankConfig(&comms_[i], static_cast<int>(ctx.size()), id, static_cast<int>(local[i]), &config);
    }
    const ncclResult_t end = ncclGroupEnd();
    if (failed(status) || failed(end) || !guarded) {
      abort();
      const int device = devices_.empty() ? -1 : devices_[0];
      if (!guarded) throw error("cudaSetDevice failed before ncclCommInitRankConfig", static_cast<int>(first_), device);
      nccl::throw_nccl(failed(status) ? status : end, "ncclCommInitRankConfig", static_cast<int>(first_), device, nullptr);
    }
    // Not ready yet (non-blocking): comms() settles them under the context's deadline.
  }
  ~communicators() override {
    if (aborted_ || !owned_) return;
    // A communicator in an error state is aborted, not destroyed (ncclCommDestroy returns
    // early on it, leaving its group open); the others are finalised (non-blocking), given a
    // few seconds to get there, then destroyed, or aborted when they do not.
    try {
      const cuda_backend::device_guard guard(devices_[0], std::nothrow);
      bool healthy = true;
      for (ncclComm_t c : comms_) {
        ncclResult_t async = ncclSuccess;
        healthy = healthy && c != nullptr && ncclCommGetAsyncError(c, &async) == ncclSuccess && async == ncclSuccess;
      }
      if (healthy)
        for (ncclComm_t c : comms_) healthy = healthy && !failed(ncclCommFinalize(c));
      if (healthy) healthy = settle(std::chrono::steady_clock::now() + std::chrono::seconds(5));
      if (!healthy) {
        abort();
        return;
      }
      for (ncclComm_t c : comms_) (void)ncclCommDestroy(c);
    } catch (...) {
      abort();
    }
  }
  communicators(const communicators&) = delete;
  communicators& operator=(const communicators&) = delete;

  /// The communicator of local shard `shard` (a global index).
  ncclComm_t operator[](std::size_t shard) const { return comms_[shard - first_]; }
  const char* name() const noexcept override { return owned_ ? "nccl (ranks)" : "nccl (ranks, the application's communicators)"; }
  bool aborted() const noexcept override { return aborted_; }
  /// The application's communicators (use_communicators), not shard's.
  bool given() const noexcept { return !owned_; }

  void abort() noexcept override {
    if (aborted_) return;
    aborted_ = true;
    const cuda_backend::device_guard guard(devices_[0], std::nothrow);
    if (!owned_) return nccl::revoke(comms_, std::chrono::seconds(5));  // the application's: revoked, not freed
    for (ncclComm_t c : comms_)
      if (c != nullptr) (void)ncclCommAbort(c);
  }

  void poll() override {
    if (aborted_) return;
    for (std::size_t i = 0; i < comms_.size(); ++i) {
      const ncclResult_t status = state(i);
      if (!failed(status)) continue;
      throw error(std::string("NCCL error ") + std::to_string(static_cast<int>(status)) + " (" +
                      ncclGetErrorString(status) + "); the context aborts its communicators",
                  static_cast<int>(first_ + i), devices_[i], "ncclCommGetAsyncError");
    }
  }

  /// Polls until no communicator is in progress (non-blocking calls have all been issued
  /// onto the streams) or `deadline` passes; throws on an error.
  bool settle(std::chrono::steady_clock::time_point deadline) {
    return detail::poll_until(
        [&] {
          bool done = true;
          for (std::size_t i = 0; i < comms_.size(); ++i) {
            const ncclResult_t status = state(i);
            if (failed(status)) nccl::throw_nccl(status, "ncclCommGetAsyncError", static_cast<int>(first_ + i), devices_[i], comms_[i]);
            done = done && status == ncclSuccess;
          }
          return done;
        },
        deadline);
  }

 private:
  /// Communicator i's state: the query's failure, or its asynchronous error (ncclInProgress
  /// while a non-blocking call is still being issued).
  ncclResult_t state(std::size_t i) const { return nccl::state_of(comms_[i]); }
  std::vector<ncclComm_t> comms_;
  std::vector<int> devices_;
  std::size_t first_ = 0;
  bool owned_ = true;
  bool aborted_ = false;
};

/// Polls `c` until its communicators are ready: an error aborts them (through the context's
/// bounded abort) and throws; the deadline gives up on the ranks (shard::timeout).
inline void settle_or_give_up(detail::context_impl& ctx, communicators& c, const char* what) {
  bool ready = false;
  try {
    ready = c.settle(ctx.deadline());
  } catch (...) {
    ctx.abort_collective_engine();
    throw;
  }
  if (!ready) std::rethrow_exception(ctx.give_up_ranks(what));
}

/// The context's communicators between ranks, made on first use (again after an abort) and
/// owned by the context as its collective engine, so that a deadline or a failure aborts them
/// through the context's bounded abort.
inline communicators& comms(detail::context_impl& ctx) {
  const bool made = !dynamic_cast<communicators*>(ctx.engine().get()) || ctx.engine()->aborted();
  communicators& c = nccl::engine_of<communicators>(ctx);
  if (made) settle_or_give_up(ctx, c, "the creation of NCCL's communicators");
  return c;
}

/// One group of ncclSend / ncclRecv for the transfers between ranks (`src` and `dst` are
/// addresses where their shard is local), queued on the shards' streams. Collective: every
/// rank calls it with the same list. A failure aborts the communicators and throws.
template <class Transfer>
void exchange(detail::context_impl& ctx, const std::vector<Transfer>& transfers) {
  communicators& c = comms(ctx);
  const cuda_backend::device_guard guard(ctx.host_device().ordinal());
  ncclResult_t status = ncclGroupStart();
  if (status != ncclSuccess) nccl::throw_nccl(status, "ncclGroupStart", -1, -1, nullptr);
  try {
    for (const auto& t : transfers) {
      if (t.bytes == 0) continue;
      if (ctx.local(t.src_shard)) {
        status = ncclSend(t.src, t.bytes, ncclUint8, static_cast<int>(t.dst_shard), c[t.src_shard],
                          nccl::cuda_device(ctx, t.src_shard).stream());
        if (failed(status)) nccl::throw_nccl(status, "ncclSend", static_cast<int>(t.src_shard), ctx.dev(t.src_shard).ordinal(), c[t.src_shard]);
      }
      if (ctx.local(t.dst_shard)) {
        status = ncclRecv(t.dst, t.bytes, ncclUint8, static_cast<int>(t.src_shard), c[t.dst_shard],
                          nccl::cuda_device(ctx, t.dst_shard).stream());
        if (failed(status)) nccl::throw_nccl(status, "ncclRecv", static_cast<int>(t.dst_shard), ctx.dev(t.dst_shard).ordinal(), c[t.dst_shard]);
      }
    }
  } catch (...) {
    (void)ncclGroupEnd();
    ctx.abort_collective_engine();
    throw;
  }
  status = ncclGroupEnd();
  if (failed(status)) {
    ctx.abort_collective_engine();
    nccl::throw_nccl(status, "ncclGroupEnd", -1, -1, nullptr);
  }
  // Non-blocking communicators: the calls are on the streams once none is in progress.
  settle_or_give_up(ctx, c, "NCCL's exchange");
}

}  // namespace transport::nccl_ranks
SHARD_NAMESPACE_END
#endif
