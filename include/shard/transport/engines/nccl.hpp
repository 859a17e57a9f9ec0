#pragma once
/// @file transport/engines/nccl.hpp
/// NCCL as an engine of the transport's collectives, for contexts whose shards are distinct
/// GPUs (NCCL rejects two ranks on one GPU). Compiled only with SHARD_HAS_NCCL.
///
/// - One communicator per shard, created on first use with ncclCommInitAll and kept by the
///   context as its collective engine (core/collective_engine.hpp).
/// - Every ncclResult_t is checked; a failure becomes shard::error naming the call, the
///   shard, the device and NCCL's message.
/// - NCCL work is queued on the shards' streams like any other; the context's wait polls
///   ncclCommGetAsyncError while the streams run: an asynchronous error throws, and the wait
///   then aborts every communicator (ncclCommAbort) through the context's bounded abort
///   (context_impl::abort_collective_engine: on a thread of its own, waited for at most 5 s,
///   since ncclCommAbort can wait on a stuck stream) instead of leaving a stream hanging; the
///   next collective creates new communicators. A wait past the context's deadline aborts
///   them the same way (context_impl::give_up).
/// - NCCL's calls that set the current device themselves (ncclCommInitAll, a blocking
///   ncclGroupEnd, ncclCommDestroy, ncclCommAbort) save and restore it with cudaGetDevice /
///   cudaSetDevice, which would replace a caller's non-primary context, or create GPU 0's
///   primary context on a thread that has none. They run under a device_guard, which saves
///   and restores the caller's context itself.
#include <shard/config.hpp>

#if SHARD_HAS_NCCL
#  include <shard/backend/cuda/device.hpp>
#  include <shard/backend/cuda/error.hpp>
#  include <shard/core/collective_engine.hpp>
#  include <shard/core/plan.hpp>
#  include <shard/core/context_impl.hpp>
#  include <shard/error.hpp>

#  include <nccl.h>

#  include <chrono>
#  include <cstdint>
#  include <memory>
#  include <new>
#  include <set>
#  include <string>
#  include <type_traits>
#  include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport::nccl {

/// Whether NCCL can serve this context: CUDA shards, each on its own GPU.
inline bool usable(const detail::context_impl& ctx) {
  // An SPMD context's shards of other ranks are reached through its communicator instead
  // (transport/ranks.hpp); this engine's communicators are one process's.
  if (ctx.kind() != backend::cuda || ctx.size() < 2 || ctx.spmd()) return false;
  std::set<int> ordinals;
  for (std::size_t s = 0; s < ctx.size(); ++s) ordinals.insert(ctx.dev(s).ordinal());
  return ordinals.size() == ctx.size();
}

[[noreturn]] inline void throw_nccl(ncclResult_t status, const char* call, int shard, int device, ncclComm_t comm) {
  std::string message = std::string("NCCL error ") + std::to_string(static_cast<int>(status)) + " (" +
                        ncclGetErrorString(status) + ")";
  if (comm != nullptr) {
    const char* last = ncclGetLastError(comm);
    if (last != nullptr && *last != '\0') message += ": " + std::string(last);
  }
  throw error(message, shard, device, call);
}

/// Marks the constructors of engines over communicators the application made and owns
/// (shard::nccl::use_communicators): shard never frees those. Where it would abort its own
/// (an NCCL error, a deadline, a step that failed on some rank), it revokes them instead
/// (ncclCommRevoke, NCCL 2.28.7 and later: in-flight work stops, the communicator stays
/// the application's to destroy) and stops using them.
struct given_t {
  explicit given_t() = default;
};
inline constexpr given_t given{};

/// `comm`'s state: the query's failure, or its asynchronous error (ncclInProgress while a
/// non-blocking call is still being issued, or a revoke still stopping work).
inline ncclResult_t state_of(ncclComm_t comm) noexcept {
  ncclResult_t async = ncclSuccess;
  const ncclResult_t query = ncclCommGetAsyncError(comm, &async);
  return query != ncclSuccess ? query : async;
}

/// Polls `comms` until none is in progress or `deadline` passes. Returns the index of the
/// first that failed (its status in `*status`), comms.size() when all are ncclSuccess, and
/// comms.size() + 1 past the deadline.
inline std::size_t settle_all(const std::vector<ncclComm_t>& comms, std::chrono::steady_clock::time_point deadline,
                              ncclResult_t* status) {
  std::size_t failed = comms.size();
  const bool done = detail::poll_until(
      [&] {
        bool all = true;
        for (std::size_t i = 0; i < comms.size(); ++i) {
          const ncclResult_t s = state_of(comms[i]);
          if (s == ncclInProgress) {
            all = false;
          } else if (s != ncclSuccess) {
            failed = i, *status = s;
            return true;
          }
        }
        return all;
      },
      deadline);
  return done ? failed : comms.size() + 1;
}

/// Ends the work of the application's communicators without freeing them: ncclCommRevoke,
/// then a poll (at most `bound`) until they are quiescent. Best effort, never throws.
/// (Given communicators need NCCL 2.28.7: <shard/nccl.hpp> refuses older versions.)
inline void revoke(const std::vector<ncclComm_t>& comms, std::chrono::nanoseconds bound) noexcept {
#  if NCCL_VERSION_CODE >= NCCL_VERSION(2, 28, 7)
  for (ncclComm_t c : comms)
    if (c != nullptr) (void)ncclCommRevoke(c, NCCL_REVOKE_DEFAULT);
#  endif
  ncclResult_t ignored = ncclSuccess;
  try {
    (void)settle_all(comms, std::chrono::steady_clock::now() + bound, &ignored);
  } catch (...) {
  }
}

/// The context's communicators, one per shard. Destroyed with the context; aborted
/// (ncclCommAbort) instead when NCCL reported an error, after which the next collective
/// creates new ones. Or the application's (given): never destroyed by shard, revoked instead
/// of aborted.
class communicators final : public detail::collective_engine {
 public:
  communicators(given_t, std::vector<ncclComm_t> comms, std::vector<int> devices)
      : comms_(std::move(comms)), devices_(std::move(devices)), owned_(false) {}
  explicit communicators(const detail::context_impl& ctx) {
    std::vector<int> ordinals;
    for (std::size_t s = 0; s < ctx.size(); ++s) ordinals.push_back(ctx.dev(s).ordinal());
    comms_.assign(ctx.size(), nullptr);
    ncclResult_t status = ncclSuccess;
    {
      const cuda_backend::device_guard guard(ordinals[0]);
      status = ncclCommInitAll(comms_.data(), static_cast<int>(comms_.size()), ordinals.data());
    }
    if (status != ncclSuccess) {
      comms_.clear();
      throw_nccl(status, "ncclCommInitAll", -1, -1, nullptr);
    }
    for (std::size_t s = 0; s < ctx.size(); ++s) devices_.push_back(ordinals[s]);
  }
  ~communicators() override {
    if (aborted_ || comms_.empty() || !owned_) return;
    // ncclCommDestroy is an intra-node collective call that every rank should make (NCCL's
    // documentation); one thread owns every rank here, so the calls go in one group and
    // complete together instead of one waiting for ranks not yet destroyed. Errors cannot be
    // reported from a destructor.
    const cuda_backend::device_guard guard(devices_[0], std::nothrow);
    if (ncclGroupStart() != ncclSuccess) return;
    for (ncclComm_t c : comms_) (void)ncclCommDestroy(c);
    (void)ncclGroupEnd();
  }
  communicators(const communicators&) = delete;
  communicators& operator=(const communicators&) = delete;

  ncclComm_t operator[](std::size_t shard) const { return comms_[shard]; }
  std::size_t size() const noexcept { return comms_.size(); }
  const char* name() const noexcept override { return owned_ ? "nccl" : "nccl (the application's communicators)"; }
  bool aborted() const noexcept override { return aborted_; }
  /// The application's communicators (use_communicators), not shard's.
  bool given() const noexcept { return !owned_; }

  /// Aborts every communicator: their pending work ends, the streams drain. May block on a
  /// stuck stream: the context calls it through its bounded abort.
  void abort() noexcept override {
    if (aborted_) return;
    aborted_ = true;
    if (comms_.empty()) return;
    const cuda_backend::device_guard guard(devices_[0], std::nothrow);
    if (!owned_) return revoke(comms_, std::chrono::seconds(5));
    for (ncclComm_t c : comms_) (void)ncclCommAbort(c);
  }
  const std::vector<ncclComm_t>& all() const noexcept { return comms_; }

  /// Called while the host waits: throws when a communicator reports an asynchronous error;
  /// the waiting context then aborts the communicators through its bounded abort.
  void poll() override {
    if (aborted_) return;
    for (std::size_t r = 0; r < comms_.size(); ++r) {
      const ncclResult_t status = state_of(comms_[r]);
      if (status == ncclSuccess || status == ncclInProgress) continue;
      const std::string message = std::string("NCCL error ") + std::to_string(static_cast<int>(status)) + " (" +
                                  ncclGetErrorString(status) + "); the context aborts its communicators";
      throw error(message, static_cast<int>(r), devices_[r], "ncclCommGetAsyncError");
    }
  }

 private:
  std::vector<ncclComm_t> comms_;
  std::vector<int> devices_;
  bool owned_ = true;
  bool aborted_ = false;
};

/// The context's collective engine of type Engine, created on first use (again after an
/// abort) from the context and owned by it, so that its waits poll it.
template <class Engine>
Engine& engine_of(detail::context_impl& ctx) {
  if (auto* existing = dynamic_cast<Engine*>(ctx.engine().get()); existing && !existing->aborted()) return *existing;
  ctx.reset_collective_engine();
  auto made = std::make_shared<Engine>(ctx);
  Engine& e = *made;
  ctx.set_collective_engine(std::move(made));
  return e;
}

/// The context's communicators (one process's shards).
inline communicators& comms(detail::context_impl& ctx) { return engine_of<communicators>(ctx); }

inline cuda_backend::device& cuda_device(detail::context_impl& ctx, std::size_t shard) {
  return static_cast<cuda_backend::device&>(ctx.dev(shard));
}

/// Issues `issue(comm, shard, stream)` for every shard inside one NCCL group. Queued like
/// any other work: the caller waits (detail::run_and_wait), and that wait polls NCCL's
/// asynchronous errors. A failure while issuing aborts the communicators and throws.
template <class Issue>
void group(detail::context_impl& ctx, Issue&& issue) {
  communicators& c = comms(ctx);
  // One guard around the whole group: NCCL's calls (a blocking ncclGroupEnd above all) set
  // devices themselves, and a guard that threw between ncclGroupStart and ncclGroupEnd would
  // leave this thread's group open.
  const cuda_backend::device_guard guard(ctx.dev(0).ordinal());
  ncclResult_t status = ncclGroupStart();
  if (status != ncclSuccess) throw_nccl(status, "ncclGroupStart", -1, -1, nullptr);
  try {
    for (std::size_t shard = 0; shard < ctx.size(); ++shard) {
      auto& d = cuda_device(ctx, shard);
      status = issue(c[shard], shard, d.stream());
      if (status != ncclSuccess) throw_nccl(status, "NCCL call", static_cast<int>(shard), d.ordinal(), c[shard]);
    }
  } catch (...) {
    // A half-issued group cannot be completed; the abort is bounded (it may wait on a stream).
    (void)ncclGroupEnd();
    ctx.abort_collective_engine();
    throw;
  }
  status = ncclGroupEnd();
  if (status != ncclSuccess && status != ncclInProgress) {
    const int device = ctx.dev(0).ordinal();
    ctx.abort_collective_engine();
    throw_nccl(status, "ncclGroupEnd", 0, device, nullptr);
  }
  if (status == ncclInProgress) {
    // Non-blocking communicators (an application's): the calls are on the streams only once
    // none is in progress, polled under the context's deadline.
    const std::size_t at = settle_all(c.all(), ctx.deadline(), &status);
    if (at < c.size()) {
      const int device = ctx.dev(at).ordinal();
      ncclComm_t comm = c[at];
      ctx.abort_collective_engine();
      throw_nccl(status, "ncclGroupEnd (non-blocking)", static_cast<int>(at), device, comm);
    }
    if (at > c.size()) {
      const int device = ctx.dev(0).ordinal();
      ctx.abort_collective_engine();
      throw timeout("NCCL's group was still being issued at the context's wait deadline", 0, device);
    }
  }
}

/// The NCCL engine of the collectives (the interface of engines::copies): grouped calls on the
/// context's communicators, every byte counted as the copies engine would move it.
class engine {
 public:
  explicit engine(detail::context_impl& ctx) : ctx_(ctx) {}

  /// Grouped ncclSend / ncclRecv of the plan's blocks (NCCL has no all-to-all-v).
  template <class T>
  void all_to_all_v(const std::vector<detail::transfer>& plan, const std::vector<const T*>& send,
                    const std::vector<T*>& recv) {
    group(ctx_, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
      for (const auto& t : plan) {
        const std::size_t bytes = t.count * sizeof(T);
        if (t.src_shard == shard) {
          const ncclResult_t r = ncclSend(send[shard] + t.src_offset, bytes, ncclUint8, static_cast<int>(t.dst_shard),
                                          comm, stream);
          if (r != ncclSuccess) return r;
        }
        if (t.dst_shard == shard) {
          const ncclResult_t r = ncclRecv(recv[shard] + t.dst_offset, bytes, ncclUint8, static_cast<int>(t.src_shard),
                                          comm, stream);
          if (r != ncclSuccess) return r;
        }
      }
      return ncclSuccess;
    });
    for (const auto& t : plan)
      ctx_.count_bytes(static_cast<int>(t.src_shard), static_cast<int>(t.dst_shard), t.count * sizeof(T));
  }

  template <class T>
  void all_gather(const std::vector<const T*>& send, std::size_t count, const std::vector<T*>& recv) {
    const std::size_t g = ctx_.size();
    group(ctx_, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
      return ncclAllGather(send[shard], recv[shard], count * sizeof(T), ncclUint8, comm, stream);
    });
    for (std::size_t s = 0; s < g; ++s)
      for (std::size_t d = 0; d < g; ++d)
        if (s != d || send[s] != recv[s] + s * count)
          ctx_.count_bytes(static_cast<int>(s), static_cast<int>(d), count * sizeof(T));
  }

  template <class T>
  void broadcast(std::size_t root, const std::vector<T*>& buffers, std::size_t count) {
    const std::size_t g = ctx_.size();
    group(ctx_, [&](ncclComm_t comm, std::size_t shard, cudaStream_t stream) {
      return ncclBroadcast(buffers[root], buffers[shard], count * sizeof(T), ncclUint8, static_cast<int>(root), comm,
                           stream);
    });
    for (std::size_t d = 0; d < g; ++d)
      if (d != root) ctx_.count_bytes(static_cast<int>(root), static_cast<int>(d), count * sizeof(T));
  }

 private:
  detail::context_impl& ctx_;
};

/// NCCL's data type for T, or ncclNumTypes when there is none (then bytes are sent as
/// ncclUint8, which suffices for data movement but not for reductions).
template <class T>
constexpr ncclDataType_t data_type() {
  if constexpr (std::is_same_v<T, float>) return ncclFloat32;
  else if constexpr (std::is_same_v<T, double>) return ncclFloat64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return ncclInt32;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return ncclUint32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return ncclInt64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return ncclUint64;
  else if constexpr (std::is_same_v<T, std::int8_t>) return ncclInt8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return ncclUint8;
  else return ncclNumTypes;
}

}  // namespace transport::nccl
SHARD_NAMESPACE_END
#endif  // SHARD_HAS_NCCL
