#pragma once
/// @file transport/ranks.hpp
/// The copies of an exchange between shards of different ranks (SPMD contexts): host bytes
/// through the context's communicator (MPI, or ranks as threads), one message per transfer.
/// The steps, on every rank alike (the plan is the same everywhere):
/// 1. the ranks agree on the outcome so far and on the exchange's shape (context_impl::agree:
///    a rank that failed, or was called with other arguments, makes every rank throw before
///    any byte moves);
/// 2. the local shards finish their queued work (a host wait: the sources must be written,
///    and the destinations free to be overwritten);
/// 3. every send and receive is posted at once and waited for under the deadline. Where the
///    shards' memory is host memory (the host backend) the messages go from and to it
///    directly, and so does GPU memory with a CUDA-aware MPI (communicator::device_memory);
///    otherwise GPU memory goes through one pinned host buffer per exchange (device -> host
///    copies before the sends, host -> device copies after the receives).
/// With NCCL compiled in and every shard a distinct GPU, the transfers go instead as one
/// group of ncclSend / ncclRecv on the streams (transport/engines/nccl_ranks.hpp), after the
/// agreement of step 1, without a host wait.
/// Bytes are counted on the sending rank, once, as source -> destination, so that the sum of
/// every rank's stats is the single-process matrix.
#include <shard/config.hpp>
#include <shard/communicator.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/error.hpp>
#include <shard/transport/engines/nccl_ranks.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport {

/// One resolved shard-to-shard copy, in bytes (what detail_copy::issue executes). Addresses
/// are known only where their shard is local (null elsewhere).
struct byte_transfer {
  std::size_t src_shard;
  const void* src;
  std::size_t dst_shard;
  void* dst;
  std::size_t bytes;
};

namespace detail_ranks {

/// Pinned host memory of one exchange, returned when it goes.
class pinned_buffer {
 public:
  pinned_buffer(detail::context_impl& ctx, std::size_t bytes) : ctx_(ctx), bytes_(bytes) {
    if (bytes_ != 0) data_ = static_cast<char*>(ctx.host_device().allocate_host(bytes_));
  }
  ~pinned_buffer() {
    if (data_ != nullptr) ctx_.host_device().deallocate_host(data_, bytes_);
  }
  pinned_buffer(const pinned_buffer&) = delete;
  pinned_buffer& operator=(const pinned_buffer&) = delete;
  char* data() const noexcept { return data_; }

 private:
  detail::context_impl& ctx_;
  std::size_t bytes_;
  char* data_ = nullptr;
};

/// Waits until every local shard is idle (no throw for failed work: the step's end reports
/// it); past the deadline the context gives up (shard::timeout).
inline void drain_local(detail::context_impl& ctx) {
  const auto deadline = ctx.deadline();
  for (auto s : ctx.local_shards())
    if (!ctx.dev(s).wait_until(deadline)) std::rethrow_exception(ctx.give_up(s));
}

/// The exchange's shape as every rank sees it: its transfers' count, bytes and fingerprint.
inline std::string shape_of(const std::vector<byte_transfer>& transfers) {
  std::uint64_t bytes = 0;
  std::string key;
  for (const auto& t : transfers) {
    bytes += t.bytes;
    key += std::to_string(t.src_shard) + '>' + std::to_string(t.dst_shard) + ':' + std::to_string(t.bytes) + ';';
  }
  return "an exchange of " + std::to_string(transfers.size()) + " transfers between ranks (" + std::to_string(bytes) +
         " bytes, plan " + std::to_string(detail::fingerprint(key) % 1000000) + ")";
}

}  // namespace detail_ranks

/// Executes the transfers between shards of different ranks (every transfer of the list
/// crosses ranks; the list is the same on every rank). Collective: every rank calls it, also
/// one that none of the transfers concerns. Throws on every rank when any rank failed before
/// (see the file comment), shard::timeout past the deadline.
inline void exchange_across_ranks(detail::context_impl& ctx, const std::vector<byte_transfer>& transfers) {
#if SHARD_HAS_NCCL
  const bool nccl = nccl_ranks::usable(ctx);
#else
  const bool nccl = false;
#endif
  // The path is part of the shape: ranks that would take different ones (NCCL or MPI) throw
  // invalid_argument together instead of waiting for each other.
  ctx.agree(nullptr, ctx.step_shape(detail_ranks::shape_of(transfers) + (nccl ? " over NCCL" : " over the communicator")));
#if SHARD_HAS_NCCL
  if (nccl) {
    // NCCL between the GPUs of the ranks: queued on the streams, no host wait here.
    nccl_ranks::exchange(ctx, transfers);
    for (const auto& t : transfers)
      if (ctx.local(t.src_shard)) ctx.count_bytes(static_cast<int>(t.src_shard), static_cast<int>(t.dst_shard), t.bytes);
    return;
  }
#endif
  // The emulated devices' memory is host memory; a CUDA-aware MPI takes GPU memory as it is.
  const bool direct = ctx.kind() == backend::host || ctx.comm().device_memory();
  std::size_t send_bytes = 0, receive_bytes = 0;
  for (const auto& t : transfers) {
    if (ctx.local(t.src_shard)) send_bytes += t.bytes;
    if (ctx.local(t.dst_shard)) receive_bytes += t.bytes;
  }
  if (send_bytes == 0 && receive_bytes == 0) return;
  detail_ranks::drain_local(ctx);
  detail_ranks::pinned_buffer out(ctx, direct ? 0 : send_bytes), in(ctx, direct ? 0 : receive_bytes);
  std::vector<communicator::outgoing> sends;
  std::vector<communicator::incoming> receives;
  std::size_t out_at = 0, in_at = 0;
  for (const auto& t : transfers) {
    if (t.bytes == 0) continue;
    if (ctx.local(t.src_shard)) {
      const void* from = t.src;
      if (!direct) {
        ctx.dev(t.src_shard).copy_to_host(out.data() + out_at, t.src, t.bytes);
        from = out.data() + out_at;
        out_at += t.bytes;
      }
      sends.push_back(communicator::outgoing{ctx.rank_of(t.dst_shard), from, t.bytes});
    }
    if (ctx.local(t.dst_shard)) {
      void* into = t.dst;
      if (!direct) {
        into = in.data() + in_at;
        in_at += t.bytes;
      }
      receives.push_back(communicator::incoming{ctx.rank_of(t.src_shard), into, t.bytes});
    }
  }
  if (!direct) detail_ranks::drain_local(ctx);  // the device -> host copies of the sends
  ctx.communicate("an exchange between ranks",
                  [&](auto deadline) { return ctx.comm().exchange(sends, receives, deadline); });
  if (!direct) {
    in_at = 0;
    for (const auto& t : transfers)
      if (t.bytes != 0 && ctx.local(t.dst_shard)) {
        ctx.dev(t.dst_shard).copy_from_host(t.dst, in.data() + in_at, t.bytes);
        in_at += t.bytes;
      }
    detail_ranks::drain_local(ctx);  // before the pinned buffer goes
  }
  for (const auto& t : transfers)
    if (ctx.local(t.src_shard)) ctx.count_bytes(static_cast<int>(t.src_shard), static_cast<int>(t.dst_shard), t.bytes);
}

}  // namespace transport
SHARD_NAMESPACE_END
