#pragma once
/// @file testing.hpp
/// Hooks for testing error paths without a GPU. Not part of <shard/shard.hpp>.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/context.hpp>
#include <shard/error.hpp>

#include <cstdint>
#include <string>

SHARD_NAMESPACE_BEGIN
namespace testing {

namespace detail_testing {
inline host_backend::device& emulated(const context& ctx, std::size_t shard, const char* hook) {
  if (ctx.kind() != backend::host)
    throw invalid_argument(std::string("testing::") + hook + ": fault injection needs a host-backend context");
  if (shard >= ctx.size())
    throw invalid_argument(std::string("testing::") + hook + ": shard " + std::to_string(shard) + " out of range");
  if (!ctx.is_local(shard))
    throw invalid_argument(std::string("testing::") + hook + ": shard " + std::to_string(shard) +
                           " is driven by another rank (rank " + std::to_string(ctx.rank_of(shard)) + ")");
  return static_cast<host_backend::device&>(ctx.impl().dev(shard));
}
}  // namespace detail_testing

/// Makes the k-th primitive (k >= 1) launched on `shard` from now on fail when it runs, with
/// a shard::error naming the shard, as a failed kernel launch would; the shard works again
/// afterwards. k = 0 disarms. Host backend only: throws invalid_argument for a CUDA context
/// or a shard out of range (so do the hooks below).
inline void fail_primitive(const context& ctx, std::size_t shard, std::uint64_t k) {
  detail_testing::emulated(ctx, shard, "fail_primitive").fail_primitive(k);
}

/// Makes the k-th primitive launched on `shard` from now on fault, as a kernel that hits an
/// illegal address does on a GPU: it throws shard::device_fault, and the fault is sticky:
/// every later call that touches the shard throws device_fault too, until the context is
/// destroyed. Other contexts are not affected.
inline void inject_device_fault(const context& ctx, std::size_t shard, std::uint64_t k) {
  detail_testing::emulated(ctx, shard, "inject_device_fault").fault_primitive(k);
}

/// Makes the k-th primitive launched on `shard` from now on never finish, as a hung kernel:
/// the next wait on the shard passes the context's deadline (shard::timeout). The emulated
/// device lets it go once the context gives up on it, or is destroyed.
inline void hang_primitive(const context& ctx, std::size_t shard, std::uint64_t k) {
  detail_testing::emulated(ctx, shard, "hang_primitive").hang_primitive(k);
}

/// Bytes allocated right now on an emulated device (host backend only).
inline std::size_t bytes_in_use(const context& ctx, std::size_t shard) {
  return detail_testing::emulated(ctx, shard, "bytes_in_use").bytes_in_use();
}

}  // namespace testing
SHARD_NAMESPACE_END
