#pragma once
/// @file core/run.hpp
/// Running a phase on all shards then waiting once (run_and_wait), and the timed spans of
/// calls and phases. Launching a primitive on one shard is primitive/launch.hpp.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/error.hpp>

#if SHARD_HAS_CUDA && !defined(SHARD_DISABLE_NVTX)
#  include <nvtx3/nvToolsExt.h>
#  define SHARD_DETAIL_NVTX 1
#else
#  define SHARD_DETAIL_NVTX 0
#endif

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Runs `enqueue()` (which queues work on any shards), then waits for all shards: one host
/// sync. When anything throws, at enqueue time or in queued work, it still waits for every
/// shard before the exception leaves, so no shard runs on memory the caller frees next. The
/// wait is bounded by the context's deadline (shard::timeout). Throws shard::error at once on
/// an unusable context.
///
/// In an SPMD context the ranks then agree on the outcome (context_impl::agree): a failure on
/// any rank throws on every rank, and ranks whose calls differ find out together.
template <class F>
void run_and_wait(context_impl& ctx, F&& enqueue) {
  const auto turn = ctx.exclusive();
  ctx.require_usable();
  try {
    const deferred_wakeups::scope queuing;  // the devices' threads start once it is queued
    enqueue();
  } catch (...) {
    ctx.synchronize_all_noexcept();
    ctx.agree_on_failure(std::current_exception(), ctx.step_shape("a step"));
  }
  ctx.finish_step("a step");
}

/// A named span of an algorithm, from construction to destruction (or to next()): its wall
/// time goes to the context's stats (a public call, or one of its phases), and in a CUDA
/// translation unit it is an NVTX range, so Nsight Systems shows the algorithms and their
/// phases on the timeline (define SHARD_DISABLE_NVTX to leave them out).
class timed_range {
 public:
  enum kind { call, phase };
  timed_range(context_impl& ctx, kind k, std::string name)
      : ctx_(ctx), kind_(k), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {
    if (kind_ == call) outermost_ = depth()++ == 0;
    push();
  }
  timed_range(const timed_range&) = delete;
  timed_range& operator=(const timed_range&) = delete;
  ~timed_range() {
    record();
    if (kind_ == call) --depth();
  }
  /// Ends the current span and starts `name` (phases).
  void next(std::string name) {
    record();
    name_ = std::move(name);
    start_ = std::chrono::steady_clock::now();
    push();
  }

 private:
  void push() noexcept {
#if SHARD_DETAIL_NVTX
    nvtxRangePushA(name_.c_str());
#endif
  }
  void record() noexcept {
#if SHARD_DETAIL_NVTX
    nvtxRangePop();
#endif
    try {
      ctx_.count_span(kind_ == phase, name_, start_, std::chrono::steady_clock::now(), outermost_);
    } catch (...) {  // accounting never turns into an error
    }
  }
  /// Public calls this thread is inside (a call made by another is not outermost: the calls'
  /// wall time counts it once).
  static int& depth() noexcept {
    static thread_local int d = 0;
    return d;
  }
  context_impl& ctx_;
  kind kind_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  bool outermost_ = false;
};

/// The phases of one algorithm call, timed one after another.
class phase_timer : public timed_range {
 public:
  phase_timer(context_impl& ctx, std::string name) : timed_range(ctx, phase, std::move(name)) {}
};

/// Times a public algorithm call (stats::calls), marks it for profilers, and holds the
/// context for the call (context_impl::exclusive: calls from several host threads take turns).
/// In an SPMD context it also names the call and the layout of its vector arguments (anything
/// with segment_sizes()) in every agreement of the call, so that ranks called with different
/// arguments throw invalid_argument together (context_impl::agree).
class call_scope : public timed_range {
 public:
  template <class... Vectors>
  call_scope(context_impl& ctx, const char* name, const Vectors&... arguments)
      : timed_range(ctx, call, name), turn_(ctx.exclusive()), ctx_(ctx) {
    if (!ctx.spmd()) return;
    std::string text = name;
    (describe(text, arguments.segment_sizes()), ...);
    previous_ = ctx.set_call_signature(std::move(text));
  }
  call_scope(const call_scope&) = delete;
  call_scope& operator=(const call_scope&) = delete;
  ~call_scope() {
    if (ctx_.spmd()) (void)ctx_.set_call_signature(std::move(previous_));
  }

 private:
  /// " (n elements in G segments, layout <fingerprint>)".
  static void describe(std::string& text, const std::vector<std::size_t>& sizes) {
    std::size_t n = 0;
    std::string all;
    for (auto s : sizes) n += s, all += std::to_string(s) + ',';
    text += " (" + std::to_string(n) + " elements, layout " + std::to_string(fingerprint(all) % 1000000) + ")";
  }
  std::unique_lock<std::recursive_mutex> turn_;
  context_impl& ctx_;
  std::string previous_;
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
