#pragma once
/// @file skeleton/memory.hpp
/// Memory before work: an algorithm whose scratch will not fit on some shard fails before it
/// changes or moves any data, naming the shard, the bytes it needs and the bytes free.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/error.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Throws out_of_memory when `need[s]` bytes (for every local shard s; summed over the shards
/// of one device, which share its memory) exceed what the device has free
/// (device::free_memory; devices that cannot tell are not checked). The exception names the
/// first shard of the device short of memory, its device, the bytes needed and free, and
/// `call` with `what` (the scratch it is for). In an SPMD context the ranks agree on the
/// outcome, so that every rank throws when one is short. No device work; no host sync.
inline void require_memory(context_impl& ctx, const std::string& call, const std::string& what,
                           const std::vector<std::uint64_t>& need) {
  std::exception_ptr failure;
  try {
    struct demand {
      std::size_t first_shard;
      std::uint64_t bytes = 0;
    };
    std::map<int, demand> by_device;
    for (auto s : ctx.local_shards()) {
      if (need[s] == 0) continue;
      const int ordinal = ctx.dev(s).ordinal();
      auto [it, fresh] = by_device.try_emplace(ordinal, demand{s});
      it->second.bytes += need[s];
    }
    for (const auto& [ordinal, d] : by_device) {
      const std::uint64_t free_bytes = ctx.dev(d.first_shard).free_memory();
      if (free_bytes == device::unknown_memory || d.bytes <= free_bytes) continue;
      throw out_of_memory(static_cast<int>(d.first_shard), ordinal, static_cast<std::size_t>(d.bytes),
                          static_cast<std::size_t>(free_bytes), call + " (" + what + ")");
    }
  } catch (...) {
    failure = std::current_exception();
  }
  ctx.agree(failure, ctx.step_shape(call + ": memory check"));
}

}  // namespace detail
SHARD_NAMESPACE_END
