// failover: a sort that loses a device half-way and still finishes with the right result.
// Four emulated devices (the fault is injected with shard::testing::inject_device_fault, as an
// illegal address would hit a GPU); the sort throws shard::device_fault; the application moves
// its vector onto the surviving devices (context::survivors, shard::salvage), reads again only
// the index ranges that were lost, from their source, and sorts again. Checked against
// std::sort. The recipe: docs/failover.md.
//
//   failover [n] [faulting primitive]      (default 4M keys; the fault at shard 2's 3rd primitive)
#include <shard/shard.hpp>
#include <shard/testing.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  try {
    const std::size_t n = argc > 1 ? std::stoull(argv[1]) : std::size_t{4} << 20;
    const std::uint64_t when = argc > 2 ? std::stoull(argv[2]) : 3;
    // The source: the keys as a file or a database would give them back (here, a generator).
    std::vector<std::uint64_t> source(n);
    std::mt19937_64 rng(2026);
    for (auto& k : source) k = rng();

    shard::context ctx = shard::context::host(4);
    shard::vector<std::uint64_t> keys(ctx, source);
    shard::testing::inject_device_fault(ctx, 2, when);  // shard 2 faults at its `when`-th primitive
    std::printf("failover: sorting %zu keys on %zu emulated devices; device 2 will fault\n", n, ctx.size());
    try {
      shard::sort(keys);
      std::printf("  the sort finished before the fault (device 2 ran fewer than %llu primitives)\n",
                  static_cast<unsigned long long>(when));
    } catch (const shard::device_fault& e) {
      std::printf("  %s\n", e.what());
      // 1. A context over the devices that did not fault.
      const shard::context survivors = ctx.survivors();
      std::printf("  faulted shards: %zu; carrying on with %zu\n", ctx.faulted_shards().size(), survivors.size());
      // 2. The vector onto them: every surviving segment copied device to device, the lost
      //    index ranges returned (a failed sort leaves each segment holding its own keys).
      auto [moved, lost] = shard::salvage(keys, survivors);
      // 3. Only the lost ranges read again from the source.
      std::size_t reread = 0;
      for (const auto& range : lost) {
        shard::copy(std::span<const std::uint64_t>(source.data() + range.first, range.size()), moved, range.first);
        reread += range.size();
      }
      std::printf("  read again from the source: %zu of %zu keys\n", reread, n);
      // 4. The work, finished on the survivors.
      shard::sort(moved);
      keys = std::move(moved);
    }
    std::sort(source.begin(), source.end());
    const bool right = keys.to_host() == source;
    std::printf("  sorted on %zu devices: %s\n", keys.get_context().size(), right ? "right" : "WRONG");
    return right ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "failover: %s\n", e.what());
    return 1;
  }
}
