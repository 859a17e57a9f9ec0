#pragma once
/// @file on_each_shard.hpp
/// shard::on_each_shard: the application's own code on every shard at once, with the shard's
/// segments of aligned vectors, its device and, in a CUDA translation unit, its stream
/// (docs/interop.md).
#include <shard/config.hpp>
#include <shard/context.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/error.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/vector.hpp>

#if SHARD_HAS_CUDA
#  include <cuda_runtime_api.h>
#  include <shard/backend/cuda/error.hpp>
#endif

#include <cstddef>
#include <exception>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

SHARD_NAMESPACE_BEGIN

/// Where a callable of on_each_shard runs.
struct shard_place {
  std::size_t shard = 0;  ///< the shard's index in its context
  int device = -1;        ///< its CUDA device ordinal, or the emulated device's index
#if SHARD_HAS_CUDA
  /// The shard's stream (work queued there is ordered with shard's own work on the shard);
  /// during the call the shard's GPU is the current device. Null on an emulated shard.
  cudaStream_t stream = nullptr;
#endif
};

namespace detail {

/// Calls `f(here, segments...)`, turning what it throws into shard::error naming the shard
/// (the callable's own exception nested in it: std::rethrow_if_nested gives it back).
template <class F, class... Segments>
void call_on_shard(F& f, const shard_place& here, const Segments&... segments) {
  try {
    f(here, segments...);
  } catch (const error&) {
    throw;  // shard's own (a shard::error from the callable names what it names)
  } catch (const std::exception& e) {
    std::throw_with_nested(error(std::string("the callable threw: ") + e.what(), static_cast<int>(here.shard),
                                 here.device, "shard::on_each_shard"));
  } catch (...) {
    std::throw_with_nested(error("the callable threw an exception that is not a std::exception",
                                 static_cast<int>(here.shard), here.device, "shard::on_each_shard"));
  }
}

/// Runs `f` once on every local shard s with `segments_of(s)` (a tuple of segments), then waits
/// once: on an emulated device as a task of its queue (on its worker thread, beside the other
/// shards' tasks), on a GPU on this thread with the GPU current and its stream in `here`,
/// checking the launches it made (cudaGetLastError).
template <class F, class SegmentsOf>
void on_each_shard_impl(context_impl& ctx, F& f, SegmentsOf&& segments_of) {
  run_and_wait(ctx, [&] {
    for (auto s : ctx.local_shards()) {
      auto segments = segments_of(s);
      launch(ctx, s, [&](auto& dev) {
        shard_place here;
        here.shard = s;
        here.device = dev.ordinal();
        if constexpr (std::is_same_v<std::decay_t<decltype(dev)>, host_backend::device>) {
          // `f` outlives the task: run_and_wait returns once every queue has run it.
          dev.launch([fp = &f, here, segments] {
            std::apply([&](const auto&... seg) { call_on_shard(*fp, here, seg...); }, segments);
          });
        } else {
#if SHARD_HAS_CUDA
          here.stream = dev.stream();
          const cuda_backend::device_guard current(here.device);
          std::apply([&](const auto&... seg) { call_on_shard(f, here, seg...); }, segments);
          // A launch the callable made that failed at once (bad configuration, no kernel image
          // for this GPU); failures while its kernels run reach the wait below.
          const cudaError_t status = cudaGetLastError();
          if (status != cudaSuccess)
            cuda_backend::throw_cuda_error(status, "a launch of shard::on_each_shard's callable", static_cast<int>(s),
                                           here.device);
#endif
        }
      });
    }
  });
}

}  // namespace detail

/// Calls `f(here)` once on every shard of `ctx`, all shards at once (`here`: shard_place, the
/// shard, its device and, in a CUDA translation unit, its stream), then waits for all of them
/// once (one host sync). On an emulated device `f` runs on the shard's worker thread, beside
/// the other shards (with a thread per device, the default up to 64 devices, all at once: a
/// pool runs as many at once as it has threads); on a GPU it runs on the calling thread with
/// the shard's GPU current, and what it queues on `here.stream` runs beside the other GPUs'
/// work. Whatever `f` throws on a shard, and a launch of it that failed, is thrown as
/// shard::error naming the shard (the first failing shard; `f`'s exception nested in it), after
/// every shard is idle. In an SPMD context every rank calls it (collective) and `f` runs on
/// the rank's own shards; a failure on any rank throws on every rank.
template <class F>
void on_each_shard(const context& ctx, F&& f) {
  auto& impl = ctx.impl();
  const detail::call_scope scope(impl, "shard::on_each_shard");
  detail::on_each_shard_impl(impl, f, [](std::size_t) { return std::tuple<>{}; });
}

/// As above with the shard's segments of `v` and `more` (vectors of one context laid out
/// alike: equal segment sizes): `f(here, v.segment(s), more.segment(s)...)` on every shard s,
/// the segments' data in that shard's device memory. Throws invalid_argument for vectors of
/// different contexts or layouts.
template <class F, class T, class... U>
void on_each_shard(F&& f, vector<T>& v, vector<U>&... more) {
  constexpr const char* name = "shard::on_each_shard";
  (detail::require_same_context(name, v, more), ...);
  std::size_t position = 1;
  [[maybe_unused]] const auto aligned = [&](const auto& w) {
    ++position;
    if (w.segment_sizes() != v.segment_sizes())
      throw invalid_argument(std::string(name) + ": vector " + std::to_string(position) +
                             " is laid out differently from the first (its segment sizes differ)");
  };
  (aligned(more), ...);
  auto& impl = v.get_context().impl();
  const detail::call_scope scope(impl, name, v, more...);
  detail::on_each_shard_impl(impl, f,
                             [&](std::size_t s) { return std::make_tuple(v.segment(s), more.segment(s)...); });
}

SHARD_NAMESPACE_END
