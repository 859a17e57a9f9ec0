#pragma once
/// @file primitive/launch.hpp
/// Launching a primitive on one shard: dispatched to the shard's backend and counted.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/error.hpp>

#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/device.hpp>
#endif

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Calls `f(dev)` with the shard's concrete device (host_backend::device or
/// cuda_backend::device), so `f` can call the backend's overload of a primitive or a query
/// (primitive::sort_scratch_bytes). Counts nothing; the shard must be local.
template <class F>
void with_device(context_impl& ctx, std::size_t shard, F&& f) {
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

/// with_device for a primitive: counts one launch on that shard. In an SPMD context a shard of
/// another rank launches nothing here (its rank launches it): the skeletons call launch for
/// every shard alike.
template <class F>
void launch(context_impl& ctx, std::size_t shard, F&& f) {
  if (!ctx.local(shard)) return;
  ctx.count_launch(shard);
  device& d = ctx.dev(shard);
  d.activity_begin();  // a GPU times the launch's work with events around it (stats, traces)
  try {
    with_device(ctx, shard, f);
  } catch (...) {
    try {
      d.activity_end(last_primitive());
    } catch (...) {  // the launch's own failure is the one to report
    }
    throw;
  }
  d.activity_end(last_primitive());
}

}  // namespace detail
SHARD_NAMESPACE_END
