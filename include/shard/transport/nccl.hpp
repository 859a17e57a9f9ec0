#pragma once
/// @file transport/nccl.hpp
/// NCCL as an engine of the transport's collectives, for contexts whose shards are distinct
/// GPUs (NCCL rejects two ranks on one GPU). Compiled only with SHARD_HAS_NCCL.
///
/// - One communicator per shard, created on first use with ncclCommInitAll and kept by the
///   context (context_impl::collective_engine).
/// - Every ncclResult_t is checked; a failure becomes shard::error naming the call, the
///   shard, the device and NCCL's message.
/// - Waiting polls ncclCommGetAsyncError while the streams run: an asynchronous error aborts
///   every communicator (ncclCommAbort) instead of leaving a stream hanging, drops them (the
///   next call creates new ones) and throws.
#include <shard/config.hpp>

#if SHARD_HAS_NCCL
#  include <shard/backend/cuda/device.hpp>
#  include <shard/backend/cuda/error.hpp>
#  include <shard/detail/context_impl.hpp>
#  include <shard/error.hpp>

#  include <nccl.h>

#  include <cstdint>
#  include <memory>
#  include <set>
#  include <string>
#  include <thread>
#  include <type_traits>
#  include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport::nccl {

/// Whether NCCL can serve this context: CUDA shards, each on its own GPU.
inline bool usable(const detail::context_impl& ctx) {
  if (ctx.kind() != backend::cuda || ctx.size() < 2) return false;
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

/// The context's communicators. Destroyed (or aborted, after a failure) with the context.
class communicators {
 public:
  explicit communicators(const detail::context_impl& ctx) {
    std::vector<int> ordinals;
    for (std::size_t s = 0; s < ctx.size(); ++s) ordinals.push_back(ctx.dev(s).ordinal());
    comms_.assign(ctx.size(), nullptr);
    const ncclResult_t status = ncclCommInitAll(comms_.data(), static_cast<int>(comms_.size()), ordinals.data());
    if (status != ncclSuccess) {
      comms_.clear();
      throw_nccl(status, "ncclCommInitAll", -1, -1, nullptr);
    }
  }
  ~communicators() {
    for (ncclComm_t c : comms_) {
      if (c == nullptr) continue;
      // Errors cannot be reported from a destructor; an aborted communicator is gone anyway.
      (void)(aborted_ ? ncclCommAbort(c) : ncclCommDestroy(c));
    }
  }
  communicators(const communicators&) = delete;
  communicators& operator=(const communicators&) = delete;

  ncclComm_t operator[](std::size_t shard) const { return comms_[shard]; }
  std::size_t size() const noexcept { return comms_.size(); }
  void mark_aborted() noexcept { aborted_ = true; }

 private:
  std::vector<ncclComm_t> comms_;
  bool aborted_ = false;
};

/// The context's communicators, created on first use.
inline communicators& comms(detail::context_impl& ctx) {
  return ctx.collective_engine<communicators>([&] { return std::make_shared<communicators>(ctx); });
}

inline cuda_backend::device& cuda_device(detail::context_impl& ctx, std::size_t shard) {
  return static_cast<cuda_backend::device&>(ctx.dev(shard));
}

/// Aborts every communicator, drops them, and throws for `status` on `shard`.
[[noreturn]] inline void abort_and_throw(detail::context_impl& ctx, communicators& c, ncclResult_t status,
                                         const char* call, std::size_t shard) {
  std::string message = std::string("NCCL error ") + std::to_string(static_cast<int>(status)) + " (" +
                        ncclGetErrorString(status) + "); the context's communicators were aborted";
  const int device = ctx.dev(shard).ordinal();
  c.mark_aborted();
  ctx.reset_collective_engine();
  throw error(message, static_cast<int>(shard), device, call);
}

/// Waits until every shard's stream is idle, polling each communicator's asynchronous error.
inline void wait(detail::context_impl& ctx, communicators& c) {
  for (std::size_t s = 0; s < ctx.size(); ++s) {
    auto& d = cuda_device(ctx, s);
    for (;;) {
      cudaError_t status;
      {
        cuda_backend::device_guard g(d.ordinal());
        status = cudaStreamQuery(d.stream());
      }
      if (status == cudaSuccess) break;
      if (status != cudaErrorNotReady) d.check(status, "cudaStreamQuery (waiting for NCCL)");
      for (std::size_t r = 0; r < c.size(); ++r) {
        ncclResult_t async = ncclSuccess;
        const ncclResult_t query = ncclCommGetAsyncError(c[r], &async);
        if (query != ncclSuccess) abort_and_throw(ctx, c, query, "ncclCommGetAsyncError", r);
        if (async != ncclSuccess && async != ncclInProgress) abort_and_throw(ctx, c, async, "NCCL operation", r);
      }
      std::this_thread::yield();
    }
  }
}

/// Runs `issue(comms, shard, stream)` for every shard inside one NCCL group, then waits
/// (polling asynchronous errors). One host synchronisation.
template <class Issue>
void group(detail::context_impl& ctx, Issue&& issue) {
  communicators& c = comms(ctx);
  ctx.count_host_sync();
  ncclResult_t status = ncclGroupStart();
  if (status != ncclSuccess) throw_nccl(status, "ncclGroupStart", -1, -1, nullptr);
  try {
    for (std::size_t shard = 0; shard < ctx.size(); ++shard) {
      auto& d = cuda_device(ctx, shard);
      status = issue(c[shard], shard, d.stream());
      if (status != ncclSuccess) throw_nccl(status, "NCCL call", static_cast<int>(shard), d.ordinal(), c[shard]);
    }
  } catch (...) {
    // A half-issued group cannot be completed: abort the communicators (the next call
    // creates new ones) and let the first error through.
    (void)ncclGroupEnd();
    c.mark_aborted();
    ctx.reset_collective_engine();
    ctx.synchronize_all_noexcept();
    throw;
  }
  status = ncclGroupEnd();
  if (status != ncclSuccess && status != ncclInProgress) abort_and_throw(ctx, c, status, "ncclGroupEnd", 0);
  wait(ctx, c);
}

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
