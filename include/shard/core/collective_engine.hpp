#pragma once
/// @file core/collective_engine.hpp
/// The state a collective library keeps for a context (NCCL's communicators today; MPI's and
/// NCCL's across processes next), behind one typed interface that the context owns and its
/// waits drive: polled while the host waits on the shards, aborted (with a bound) when it
/// reports an asynchronous error or a wait passes the deadline. The engines themselves
/// (transport/engines/) add the collectives.
#include <shard/config.hpp>

SHARD_NAMESPACE_BEGIN
namespace detail {

class collective_engine {
 public:
  virtual ~collective_engine() = default;
  /// A short name for messages ("nccl").
  virtual const char* name() const noexcept = 0;
  /// Called over and over while the host waits for the shards: throws shard::error when the
  /// library reports an asynchronous error. The waiting context then aborts the engine.
  virtual void poll() = 0;
  /// Ends the engine's outstanding work, so that the queues drain. May block (NCCL's abort
  /// waits on its streams): the context calls it on a thread of its own, with a bound.
  virtual void abort() noexcept = 0;
  /// Whether abort() has run: the engine must be made anew before its next use.
  virtual bool aborted() const noexcept = 0;
};

}  // namespace detail
SHARD_NAMESPACE_END
