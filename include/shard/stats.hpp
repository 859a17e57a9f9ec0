#pragma once
/// @file stats.hpp
/// Communication accounting: what an algorithm moved, waited for and launched.
#include <shard/config.hpp>

#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// A snapshot of a context's counters (context::stats()). Both backends count the same
/// things in the backend-agnostic layer, so the figures of an algorithm are the same on the
/// host backend and on GPUs.
///
/// Nodes are the shards 0..shards-1 and the host, written `stats::host`.
struct stats {
  /// Index that names the host as a node of the transfer matrix.
  static constexpr int host = -1;

  std::size_t shards = 0;
  /// Bytes moved, row-major (shards+1) x (shards+1): row = source, column = destination,
  /// index `shards` = host. The diagonal counts copies that stay on one shard.
  std::vector<std::uint64_t> bytes;
  /// Times the host waited on device work (one wait on any number of shards counts once).
  std::uint64_t host_syncs = 0;
  /// Primitive launches (CUB device-wide calls, or their host equivalents) per shard.
  std::vector<std::uint64_t> launches;
  /// Peak bytes allocated on each shard since creation or the last reset_stats(): container
  /// storage and algorithm buffers. Backend scratch space (CUB temporary storage) is not
  /// included, so the figure is the same on both backends.
  std::vector<std::uint64_t> peak_bytes;
  /// Bytes allocated on each shard when the snapshot was taken (as peak_bytes counts them).
  std::vector<std::uint64_t> bytes_in_use;
  /// Seconds each shard's queues spent running work (primitives and copies; time covered by
  /// either of a shard's two queues once) since creation or the last reset_stats(): measured
  /// as the work runs on the host backend, from events around every launch and copy on a GPU.
  std::vector<double> busy_seconds;
  /// Wall time of the public calls since creation or the last reset_stats() (calls made by
  /// other calls counted once): the time utilisation() divides by.
  double wall_seconds = 0;
  /// Wall time under one name, summed since creation or the last reset_stats().
  struct timing {
    std::string name;
    double seconds = 0;
    std::uint64_t calls = 0;
  };
  using phase = timing;
  /// Wall time of every public algorithm call ("shard::reduce", "shard::stable_sort", ...;
  /// shard::sort is recorded as shard::stable_sort), in the order first seen. A call made by
  /// another (sort_by_key's copy back) counts under both.
  std::vector<timing> calls;
  /// Wall time of the phases of the algorithms that report them (sort: "sort.local",
  /// "sort.splitters", "sort.exchange_merge"; see docs/sort.md), in the order first seen.
  std::vector<timing> phases;

  /// Seconds spent in calls of the algorithm `name` (0 when it never ran).
  double call_seconds(const std::string& name) const { return seconds_in(calls, name); }
  /// Seconds spent in the phase `name` (0 when it never ran).
  double phase_seconds(const std::string& name) const { return seconds_in(phases, name); }

  /// Bytes moved from `source` to `destination` (shard index, or stats::host).
  std::uint64_t bytes_moved(int source, int destination) const {
    return bytes[index(source) * (shards + 1) + index(destination)];
  }
  /// Bytes moved from one shard to a different shard.
  std::uint64_t bytes_between_shards() const {
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < shards; ++s)
      for (std::size_t d = 0; d < shards; ++d)
        if (s != d) sum += bytes[s * (shards + 1) + d];
    return sum;
  }
  /// Bytes copied from shards to the host.
  std::uint64_t bytes_to_host() const {
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < shards; ++s) sum += bytes[s * (shards + 1) + shards];
    return sum;
  }
  /// Bytes copied from the host to shards.
  std::uint64_t bytes_from_host() const {
    std::uint64_t sum = 0;
    for (std::size_t d = 0; d < shards; ++d) sum += bytes[shards * (shards + 1) + d];
    return sum;
  }
  /// Bytes moved between shards whose ranks differ (`other_rank`), or, with `nodes`, whose
  /// ranks run on different machines (`other_node`), per `links`: a topology's links, row-major
  /// shards x shards (context::topology().links). In a single-process context, 0.
  template <class Links>
  std::uint64_t bytes_across(const Links& links, bool nodes = false) const {
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < shards; ++s)
      for (std::size_t d = 0; d < shards; ++d) {
        const auto& l = links.at(s * shards + d);
        if (nodes ? l.other_node : l.other_rank) sum += bytes[s * (shards + 1) + d];
      }
    return sum;
  }
  /// Bytes `shard` sent to other shards (the host not included).
  std::uint64_t bytes_sent(std::size_t shard) const {
    std::uint64_t sum = 0;
    for (std::size_t d = 0; d < shards; ++d)
      if (d != shard) sum += bytes[shard * (shards + 1) + d];
    return sum;
  }
  /// Bytes `shard` received from other shards (the host not included).
  std::uint64_t bytes_received(std::size_t shard) const {
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < shards; ++s)
      if (s != shard) sum += bytes[s * (shards + 1) + shard];
    return sum;
  }
  /// The share of the calls' wall time that `shard` was busy (busy_seconds / wall_seconds; 0
  /// before any call): a shard well below the others waited for them, a load imbalance.
  double utilisation(std::size_t shard) const {
    return wall_seconds > 0 ? busy_seconds.at(shard) / wall_seconds : 0.0;
  }

  /// Launches summed over shards.
  std::uint64_t total_launches() const {
    std::uint64_t sum = 0;
    for (auto l : launches) sum += l;
    return sum;
  }

 private:
  static double seconds_in(const std::vector<timing>& list, const std::string& name) {
    for (const auto& t : list)
      if (t.name == name) return t.seconds;
    return 0;
  }
  std::size_t index(int node) const { return node == host ? shards : static_cast<std::size_t>(node); }
};

/// Prints the counters: syncs, the calls' wall time, a row per shard (launches, busy time and
/// utilisation, bytes in use and peak, bytes sent and received), then the transfer matrix.
inline std::ostream& operator<<(std::ostream& os, const stats& s) {
  os << "host syncs: " << s.host_syncs << ", wall time of the calls: " << s.wall_seconds * 1e3 << " ms\n";
  os << std::setw(6) << "shard" << std::setw(10) << "launches" << std::setw(12) << "busy ms" << std::setw(8) << "util"
     << std::setw(14) << "in use" << std::setw(14) << "peak" << std::setw(14) << "sent" << std::setw(14) << "received"
     << '\n';
  for (std::size_t d = 0; d < s.shards; ++d) {
    const auto at = [](const auto& v, std::size_t i) { return i < v.size() ? v[i] : 0; };
    os << std::setw(6) << d << std::setw(10) << at(s.launches, d) << std::setw(12) << std::fixed << std::setprecision(3)
       << at(s.busy_seconds, d) * 1e3 << std::setw(7) << std::setprecision(1)
       << (d < s.busy_seconds.size() ? s.utilisation(d) * 100 : 0.0) << '%' << std::defaultfloat << std::setprecision(6)
       << std::setw(14) << at(s.bytes_in_use, d) << std::setw(14) << at(s.peak_bytes, d) << std::setw(14)
       << s.bytes_sent(d) << std::setw(14) << s.bytes_received(d) << '\n';
  }
  os << "bytes moved (row = source, column = destination, h = host):\n" << std::setw(6) << "";
  for (std::size_t d = 0; d <= s.shards; ++d) os << std::setw(13) << (d == s.shards ? std::string("h") : std::to_string(d));
  os << '\n';
  for (std::size_t r = 0; r <= s.shards; ++r) {
    os << std::setw(6) << (r == s.shards ? std::string("h") : std::to_string(r));
    for (std::size_t d = 0; d <= s.shards; ++d) os << std::setw(13) << s.bytes[r * (s.shards + 1) + d];
    os << '\n';
  }
  for (const auto* list : {&s.calls, &s.phases})
    for (const auto& t : *list)
      os << (list == &s.calls ? "call " : "phase ") << t.name << ": " << t.calls << " x, " << t.seconds * 1e3
         << " ms\n";
  return os;
}

SHARD_NAMESPACE_END
