#pragma once
/// @file detail/skeleton/run.hpp
/// The two moves every algorithm is made of: launch a primitive on one shard (dispatched to
/// the shard's backend and counted), and run a phase on all shards then wait once.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/detail/context_impl.hpp>
#include <shard/error.hpp>

#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/device.hpp>
#endif

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Calls `f(dev)` with the shard's concrete device (host_backend::device or
/// cuda_backend::device), so `f` can call the backend's overload of a primitive. Counts one
/// launch on that shard.
template <class F>
void launch(context_impl& ctx, std::size_t shard, F&& f) {
  ctx.count_launch(shard);
  device& d = ctx.dev(shard);
  switch (d.kind()) {
    case backend::host:
      f(static_cast<host_backend::device&>(d));
      return;
    case backend::cuda:
#if SHARD_HAS_CUDA
      f(static_cast<cuda_backend::device&>(d));
      return;
#else
      break;
#endif
  }
  throw error("a CUDA shard reached code compiled without CUDA", static_cast<int>(shard), d.ordinal(), "launch");
}

/// Runs `enqueue()` (which queues work on any shards), then waits for all shards: one host
/// sync. When anything throws, at enqueue time or in queued work, it still waits for every
/// shard before the exception leaves, so no shard runs on memory the caller frees next. The
/// wait is bounded by the context's deadline (shard::timeout). Throws shard::error at once on
/// an unusable context.
template <class F>
void run_and_wait(context_impl& ctx, F&& enqueue) {
  ctx.require_usable();
  try {
    enqueue();
  } catch (...) {
    ctx.synchronize_all_noexcept();
    throw;
  }
  ctx.synchronize_all();
}

/// Adds the wall time from its construction to its destruction (or to `next`) to a named
/// phase of the context's stats.
class phase_timer {
 public:
  phase_timer(context_impl& ctx, std::string name)
      : ctx_(ctx), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  phase_timer(const phase_timer&) = delete;
  phase_timer& operator=(const phase_timer&) = delete;
  ~phase_timer() { record(); }
  /// Ends the current phase and starts `name`.
  void next(std::string name) {
    record();
    name_ = std::move(name);
    start_ = std::chrono::steady_clock::now();
  }

 private:
  void record() noexcept {
    try {
      ctx_.count_phase(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    } catch (...) {  // accounting never turns into an error
    }
  }
  context_impl& ctx_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

/// run_and_wait over `enqueue(shard)` for every shard.
template <class F>
void on_all_shards(context_impl& ctx, F&& enqueue) {
  run_and_wait(ctx, [&] {
    for (std::size_t s = 0; s < ctx.size(); ++s) enqueue(s);
  });
}

}  // namespace detail
SHARD_NAMESPACE_END
