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

/// Makes the k-th primitive (k >= 1) launched on `shard` from now on fail when it runs, with
/// a shard::error naming the shard, as a faulting kernel would; k = 0 disarms. Host backend
/// only: throws invalid_argument for a CUDA context or a shard out of range.
inline void fail_primitive(const context& ctx, std::size_t shard, std::uint64_t k) {
  if (ctx.kind() != backend::host)
    throw invalid_argument("testing::fail_primitive: fault injection needs a host-backend context");
  if (shard >= ctx.size())
    throw invalid_argument("testing::fail_primitive: shard " + std::to_string(shard) + " out of range");
  static_cast<host_backend::device&>(ctx.impl().dev(shard)).fail_primitive(k);
}

/// Bytes allocated right now on an emulated device (host backend only).
inline std::size_t bytes_in_use(const context& ctx, std::size_t shard) {
  if (ctx.kind() != backend::host)
    throw invalid_argument("testing::bytes_in_use: needs a host-backend context");
  return static_cast<host_backend::device&>(ctx.impl().dev(shard)).bytes_in_use();
}

}  // namespace testing
SHARD_NAMESPACE_END
