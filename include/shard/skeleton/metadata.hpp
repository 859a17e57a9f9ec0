#pragma once
/// @file skeleton/metadata.hpp
/// How shards share metadata (counts, partials, splitters, boundary elements): through
/// all_gather alone, whose contract is "each shard contributes k values, every shard sees all
/// of them, in shard order". Decisions the host takes from them are deterministic functions
/// of the gathered values, so that when the skeletons run across processes (an SPMD context),
/// every process takes the same decision from its own copy and uploads it to its own shards
/// (upload below): all_gather and upload are the only functions here that know of ranks.
#include <shard/config.hpp>
#include <shard/core/buffer.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/plan.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/transport/copy.hpp>
#include <shard/transport/host.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Who must see the gathered values.
enum class seen_by {
  host,   ///< this process's host: all_gather waits once and returns them
  shards  ///< every shard's memory: all_gather queues an exchange and returns at once
};

/// Gathered bools on the host, one bool per element (std::vector<bool> packs bits and has no
/// data(), which the skeletons read keys through).
class unpacked_bools {
 public:
  void assign(std::size_t n, bool value) {
    data_.reset(new bool[n]);
    size_ = n;
    std::fill(data_.get(), data_.get() + n, value);
  }
  bool* data() noexcept { return data_.get(); }
  const bool* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool& operator[](std::size_t i) noexcept { return data_[i]; }
  const bool& operator[](std::size_t i) const noexcept { return data_[i]; }
  const bool* begin() const noexcept { return data_.get(); }
  const bool* end() const noexcept { return data_.get() + size_; }

 private:
  std::unique_ptr<bool[]> data_;
  std::size_t size_ = 0;
};

/// The host container of gathered values: std::vector<T>, or unpacked_bools for bool.
template <class T>
using host_values = std::conditional_t<std::is_same_v<T, bool>, unpacked_bools, std::vector<T>>;

/// The steps of an all-gather by recursive doubling (Bruck's order, blocks kept at their own
/// positions): at step j, shard d receives from shard (d + 2^j) mod G the blocks that shard
/// has and d lacks, [d + 2^j, d + min(2^(j+1), G)) mod G, as at most two transfers split at
/// the wrap and at absent producers (whose blocks move nowhere). ceil(log2 G) steps, each an
/// exchange that starts after the previous one's copies into its sources; every shard
/// receives each present producer's k values exactly once, (G-1)*k at most, as a direct
/// gather would, but with O(G log G) copies in all instead of G(G-1).
inline std::vector<std::vector<transfer>> doubling_steps(const std::vector<char>& present, std::size_t k) {
  const std::size_t g = present.size();
  std::vector<std::vector<transfer>> steps;
  if (k == 0) return steps;
  for (std::size_t dist = 1; dist < g; dist *= 2) {
    std::vector<transfer> plan;
    const std::size_t count = std::min(dist, g - dist);  // blocks the source has that d lacks
    for (std::size_t d = 0; d < g; ++d) {
      const std::size_t src = (d + dist) % g;
      // Blocks src, src+1, ..., src+count-1 (mod G): runs of present producers, split at G.
      for (std::size_t i = 0; i < count;) {
        const std::size_t b = (src + i) % g;
        if (!present[b]) {
          ++i;
          continue;
        }
        std::size_t len = 1;
        while (i + len < count && (src + i + len) % g != 0 && present[(src + i + len) % g]) ++len;
        plan.push_back(transfer{src, b * k, d, b * k, len * k});
        i += len;
      }
    }
    steps.push_back(std::move(plan));
  }
  return steps;
}

/// Up to this many shards, all_gather(seen_by::shards) exchanges between the shards
/// (doubling_steps, no host sync); beyond it, it gathers on the host and uploads.
inline constexpr std::size_t shards_gather_max = 16;

/// The G*k gathered values: on the host (seen_by::host) or on every shard (seen_by::shards).
template <class T>
struct gathered {
  host_values<T> host;
  segmented_buffer<T> shards;
};

/// all_gather(seen_by::host) without the copy into a vector: the G*k values stay where they
/// arrived, in the context's pinned gather slot, and the pointer returned is valid until the
/// next gather on the context (every all_gather to the host reuses the slot). For large
/// gathers that the host reads once (the sort's slices: megabytes at hundreds of shards), it
/// saves a copy and the page faults of a fresh vector. Absent producers' values are T{};
/// null when G*k is 0.
template <class T, class Produce, class Prepare = void (*)()>
const T* all_gather_in_place(context_impl& ctx, std::size_t k, Produce&& produce, Prepare&& prepare = [] {}) {
  static_assert(std::is_trivially_copyable_v<T>);
  const std::size_t g = ctx.size();
  std::vector<device_buffer<T>> slots(g);
  std::vector<char> present(g, 0);
  T* pinned = nullptr;
  run_and_wait(ctx, [&] {
    prepare();
    if (k == 0) return;
    pinned = static_cast<T*>(ctx.pinned_slots(g * k * sizeof(T)));
    // Each shard's copy to the host is queued right after its values (on an emulated device
    // the two then run as one turn of its queue).
    for (std::size_t s = 0; s < g; ++s) {
      slots[s] = device_buffer<T>(ctx, s, k);
      present[s] = produce(s, slots[s].data()) ? 1 : 0;  // decided alike on every rank
      if (present[s] && ctx.local(s)) transport::to_host(ctx, s, pinned + s * k, slots[s].data(), k * sizeof(T));
    }
  });
  if (k == 0) return nullptr;
  for (auto s : ctx.local_shards())
    if (!present[s]) std::fill(pinned + s * k, pinned + (s + 1) * k, T{});
  if (ctx.spmd()) {
    // Every rank's shards' values, rank by rank (rank r's shards are consecutive).
    std::vector<std::size_t> bytes(static_cast<std::size_t>(ctx.ranks()));
    for (int r = 0; r < ctx.ranks(); ++r) bytes[r] = (ctx.first_shard(r + 1) - ctx.first_shard(r)) * k * sizeof(T);
    ctx.communicate("a gather of metadata", [&](auto deadline) {
      return ctx.comm().all_gather_v(pinned + ctx.first_shard(ctx.rank()) * k, pinned, bytes, deadline);
    });
  }
  return pinned;
}

/// Each shard s contributes k values, written into its own memory by `produce(s, slot)`, which
/// queues the launches that write them (slot: k elements of T on shard s) and returns true,
/// or returns false when shard s has nothing to say (an empty segment): its k values are then
/// T{} and move nowhere. Every shard sees all G*k values, in shard order (shard s's at
/// [s*k, (s+1)*k)).
/// - seen_by::host: queues every producer, copies the slots into pinned host memory and waits
///   once; k*sizeof(T) bytes per shard move to the host.
/// - seen_by::shards: queued (the caller waits): every shard receives the present producers'
///   values through ceil(log2 G) exchanges (doubling_steps), (G-1)*k*sizeof(T) bytes into
///   each shard at most, and fills the absent producers' values with T{} (one launch per
///   shard and run of absent producers); no host sync. Beyond shards_gather_max shards, and
///   in an SPMD context, it gathers on the host and uploads instead (below).
/// - In an SPMD context the values of other ranks' shards arrive as host bytes
///   (communicator::all_gather_v, rank by rank); seen_by::shards then gathers on the host and
///   copies the G*k values to every local shard, with host syncs.
///
/// `prepare()`, when given, is called first, inside the same wait: work the producers depend
/// on (an upload, a local sort) is queued there.
template <class T, class Produce, class Prepare = void (*)()>
gathered<T> all_gather(context_impl& ctx, std::size_t k, Produce&& produce, seen_by who, Prepare&& prepare = [] {}) {
  static_assert(std::is_trivially_copyable_v<T>);
  const std::size_t g = ctx.size();
  gathered<T> out;
  if (who == seen_by::shards && (ctx.spmd() || g > shards_gather_max)) {
    // Across ranks the values travel as host bytes anyway, and with many shards every round
    // of copies costs more than one host round trip: gather them on the host, then send them
    // to the (local) shards: O(G) copies, two host syncs.
    auto host = all_gather<T>(ctx, k, produce, seen_by::host, prepare);
    out.shards = segmented_buffer<T>(ctx, std::vector<std::size_t>(g, g * k));
    std::vector<transport::host_block> blocks;
    for (auto s : ctx.local_shards())
      if (g * k != 0) blocks.push_back({s, host.host.data(), out.shards.data(s), g * k * sizeof(T)});
    transport::host_transfer(ctx, blocks, transport::host_direction::from_host);
    return out;
  }
  if (who == seen_by::shards) {
    prepare();
    out.shards = segmented_buffer<T>(ctx, std::vector<std::size_t>(g, g * k));
    std::vector<char> present(g, 0);
    for (std::size_t s = 0; s < g; ++s) present[s] = produce(s, out.shards.data(s) + s * k) ? 1 : 0;
    // The absent producers' values are T{} on every shard: one fill per shard and run of
    // consecutive absent producers (no copy writes there, so it races with nothing).
    for (std::size_t a = 0; a < g && k != 0;) {
      if (present[a]) {
        ++a;
        continue;
      }
      std::size_t b = a;
      while (b < g && !present[b]) ++b;
      for (std::size_t d = 0; d < g; ++d)
        launch(ctx, d, [&](auto& dev) {
          primitive::for_each_index(dev, (b - a) * k, fill_fn<T>{out.shards.data(d) + a * k, T{}});
        });
      a = b;
    }
    const auto p = out.shards.pointers();
    for (const auto& step : doubling_steps(present, k)) transport::exchange(ctx, step, std::vector<const T*>(p.begin(), p.end()), p);
    return out;
  }
  const T* in_place = all_gather_in_place<T>(ctx, k, produce, prepare);
  out.host.assign(g * k, T{});
  if (g * k != 0) std::memcpy(out.host.data(), in_place, g * k * sizeof(T));
  return out;
}

/// Queues the copy of values[s] (host memory) into dst[s] on every shard s, through the
/// context's pinned upload area: the host's decisions, sent to the shards they concern.
/// values[s].size() * sizeof(T) bytes from the host to shard s; no host sync (the caller
/// waits, and must not call upload again before it has).
template <class T>
void upload(context_impl& ctx, const std::vector<std::vector<T>>& values, const std::vector<T*>& dst) {
  static_assert(std::is_trivially_copyable_v<T>);
  std::size_t total = 0;
  for (const auto& v : values) total += v.size();
  if (total == 0) return;
  T* pinned = static_cast<T*>(ctx.pinned_slots(total * sizeof(T), 1));
  std::size_t at = 0;
  for (std::size_t s = 0; s < values.size(); ++s) {
    if (values[s].empty() || !ctx.local(s)) continue;  // another rank uploads to its own shards
    std::copy(values[s].begin(), values[s].end(), pinned + at);  // also std::vector<bool>
    transport::from_host(ctx, s, dst[s], pinned + at, values[s].size() * sizeof(T));
    at += values[s].size();
  }
}

}  // namespace detail
SHARD_NAMESPACE_END
