#pragma once
/// @file topology.hpp
/// What a context's shards are and how they are connected: per shard, the device's name,
/// memory, multiprocessors and bus id; per pair of shards, whether they share a device,
/// whether peer access is possible and enabled, its performance rank and native atomics
/// (cudaDeviceGetP2PAttribute). `context::topology()` returns it; `operator<<` prints it.
#include <shard/config.hpp>

#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// One shard's device.
struct device_properties {
  /// CUDA device ordinal, or the emulated device's index.
  int ordinal = 0;
  /// "NVIDIA H100 80GB HBM3", or "emulated device (host thread)".
  std::string name;
  /// Device memory in bytes (the emulated device's capacity; 0 = unlimited).
  std::uint64_t memory_bytes = 0;
  /// Streaming multiprocessors (1 worker thread for an emulated device).
  int multiprocessors = 0;
  /// Compute capability (0.0 for an emulated device).
  int compute_major = 0, compute_minor = 0;
  /// PCI bus id, "0000:18:00.0"; "host" for an emulated device.
  std::string bus_id;
  /// The process (rank) that drives the shard: 0 in a single-process context.
  int rank = 0;
  /// The machine the shard's rank runs on (its processor name); empty in a single-process
  /// context.
  std::string host;
};

/// How shard `a` reaches shard `b`'s memory.
struct link_properties {
  /// Both shards are on one device (the same shard, or several shards on one GPU): copies
  /// are device-local.
  bool same_device = false;
  /// The hardware allows peer access (cudaDeviceCanAccessPeer).
  bool peer_supported = false;
  /// Peer access is enabled in this context: copies go through the copy engines directly.
  /// Otherwise they are staged through pinned host memory.
  bool peer_enabled = false;
  /// cudaDevP2PAttrPerformanceRank: relative performance of the link (0 = best); -1 when
  /// the pair has no peer access or shares a device.
  int performance_rank = -1;
  /// cudaDevP2PAttrNativeAtomicSupported.
  bool native_atomics = false;
  /// The shards are driven by different processes (ranks of an SPMD context): their copies
  /// go through the context's communicator (MPI) as host bytes.
  bool other_rank = false;
  /// ... and those processes run on different machines: the bytes cross the network.
  bool other_node = false;

  /// The route shard copies take: "local", "peer", "staged", "rank" (another process on
  /// this machine) or "network" (a process on another machine).
  const char* route() const noexcept {
    if (other_rank) return other_node ? "network" : "rank";
    return same_device ? "local" : (peer_enabled ? "peer" : "staged");
  }
};

/// The shards of a context and the links between them.
struct topology {
  /// "host" (emulated devices) or "cuda".
  std::string backend;
  std::vector<device_properties> shards;
  /// Row-major shards x shards: links[a * size() + b] is how a reaches b.
  std::vector<link_properties> links;

  std::size_t size() const noexcept { return shards.size(); }
  /// Number of processes (ranks) driving the shards: 1 in a single-process context.
  int ranks() const noexcept {
    int n = 0;
    for (const auto& d : shards) n = d.rank + 1 > n ? d.rank + 1 : n;
    return n == 0 ? 1 : n;
  }
  const link_properties& link(std::size_t a, std::size_t b) const { return links.at(a * size() + b); }
};

/// Prints the devices, then the route matrix (L = local, P<rank> = peer, S = staged through
/// host memory, R = another rank on this machine, N = a rank on another machine; a trailing
/// 'a' marks native atomics).
inline std::ostream& operator<<(std::ostream& os, const topology& t) {
  os << "backend: " << t.backend << (t.backend == "host" ? " (emulated devices, one worker thread each)" : "")
     << ", shards: " << t.size() << '\n';
  os << std::left << std::setw(7) << "shard" << std::setw(8) << "device" << std::setw(34) << "name" << std::right
     << std::setw(12) << "memory MiB" << std::setw(6) << "SMs" << std::setw(6) << "cc" << "  bus id\n";
  for (std::size_t s = 0; s < t.size(); ++s) {
    const auto& d = t.shards[s];
    std::ostringstream cc;
    cc << d.compute_major << '.' << d.compute_minor;
    os << std::left << std::setw(7) << s << std::setw(8) << d.ordinal << std::setw(34) << d.name.substr(0, 33)
       << std::right << std::setw(12)
       << (d.memory_bytes == 0 ? std::string("unlimited") : std::to_string(d.memory_bytes >> 20)) << std::setw(6)
       << d.multiprocessors << std::setw(6) << cc.str() << "  " << d.bus_id;
    if (t.ranks() > 1) os << std::string(d.bus_id.size() < 12 ? 12 - d.bus_id.size() : 1, ' ') << std::setw(6) << d.rank << "  " << d.host;
    os << '\n';
  }
  os << "routes (row = from, column = to; L local, P<rank> peer access, S staged via pinned host memory, a = "
        "native atomics; R another rank on this machine, N a rank on another machine):\n"
     << std::setw(6) << "";
  for (std::size_t b = 0; b < t.size(); ++b) os << std::setw(6) << b;
  os << '\n';
  for (std::size_t a = 0; a < t.size(); ++a) {
    os << std::setw(6) << a;
    for (std::size_t b = 0; b < t.size(); ++b) {
      const auto& l = t.link(a, b);
      std::string cell(1, l.other_rank ? (l.other_node ? 'N' : 'R') : l.same_device ? 'L' : (l.peer_enabled ? 'P' : 'S'));
      if (!l.same_device && l.peer_enabled) cell += std::to_string(l.performance_rank);
      if (!l.same_device && l.native_atomics) cell += "a";
      os << std::setw(6) << cell;
    }
    os << '\n';
  }
  return os;
}

SHARD_NAMESPACE_END
