#pragma once
/// @file backend/host/context.hpp
/// Building a host-backend context: emulated devices, their topology and options.
#include <shard/allocator.hpp>
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/error.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// Options of the host backend's emulated devices.
struct host_options {
  /// Memory capacity of each emulated device in bytes; 0 = unlimited. An allocation beyond
  /// it throws shard::out_of_memory, as a full GPU would.
  std::size_t memory_per_shard = 0;
  /// Whether the emulated devices have peer access to each other. false makes every
  /// shard-to-shard copy take the staged path through host buffers, as between GPUs
  /// without peer access (to test and measure that path without such a machine).
  bool peer_access = true;
  /// Whether host <-> device copies accept only pinned host memory, as a GPU's do (it copies
  /// pageable memory only by blocking the calling thread). true makes whole-vector host
  /// transfers take the path they take on GPUs (pinned chunks, one host thread per shard),
  /// and makes any copy from pageable memory an error, so tests catch it without a GPU.
  bool require_pinned_host_memory = false;
  /// Whether each primitive takes every freedom its CUB counterpart documents, so that code
  /// right on the host only by the host's sequential order fails without a GPU: reductions
  /// combine operands in a permuted, commuted order (cub::DeviceReduce does not support
  /// non-commutative operators); scans and reduce-by-key associate in tiles (decoupled
  /// look-back); for_each and transform visit elements out of order (cub::DeviceFor); the
  /// integer-key merge takes ties in either order (cub::DeviceMerge is unstable). The list,
  /// with what each emulates, is in docs/testing.md. Results stay deterministic.
  bool cuda_semantics = false;
  /// The OS threads that run the emulated devices' queues. 0 (the default): a thread per
  /// device up to `threads_per_device_max` devices, and beyond that a pool of as many threads
  /// as the machine runs at once (std::thread::hardware_concurrency). n >= 1: a pool of n
  /// threads for all devices. A thread per device is what a race detector needs to see two
  /// shards touch the same memory without an event between them (a pool runs the tasks of
  /// several devices one after another on one thread, which orders them); a pool costs far
  /// less per call at hundreds of shards, where waking a thread per device dominates
  /// (docs/design.md, "The host backend"). Either way each device's queue runs in order and
  /// waits never hold a thread, so a pool of any size makes progress.
  std::size_t threads = 0;
  static constexpr std::size_t threads_per_device_max = 64;
  /// The application's allocator for the emulated devices' memory (allocator.hpp): every
  /// allocation and its free go through it, within memory_per_shard as before. Empty: operator
  /// new.
  shard::allocator allocator{};
  /// Each emulated device's speed relative to the host (one per shard, each in (0, 1]; empty:
  /// all 1): a device of speed k is 1/k times slower, as a mix of GPU models is: its primitives
  /// take 1/k of the CPU time they used (the rest a sleep of its thread, which leaves the core
  /// to the other devices; in a pool, host_options::threads, it holds one of the pool's
  /// threads). Copies are not slowed (links, not the device, set their speed). To test
  /// balanced layouts (distribution::balanced) without a mix of GPUs.
  std::vector<double> speed{};
};

namespace host_backend {

/// A context of `shards` emulated devices. Throws invalid_argument for 0 shards.
inline std::shared_ptr<detail::context_impl> make_context(std::size_t shards, const host_options& options) {
  if (shards == 0) throw invalid_argument("context::host: the number of shards must be at least 1");
  detail::check_allocator(options.allocator, "context::host (host_options::allocator)");
  if (!options.speed.empty() && options.speed.size() != shards)
    throw invalid_argument("context::host: host_options::speed has " + std::to_string(options.speed.size()) +
                           " factors for " + std::to_string(shards) + " shards (one per shard, or none)");
  for (std::size_t s = 0; s < options.speed.size(); ++s)
    if (!(options.speed[s] > 0 && options.speed[s] <= 1))
      throw invalid_argument("context::host: host_options::speed[" + std::to_string(s) + "] is " +
                             std::to_string(options.speed[s]) + ", not in (0, 1] (a device at most as fast as the host)");
  auto pinned = options.require_pinned_host_memory ? std::make_shared<pinned_registry>() : nullptr;
  std::size_t threads = options.threads;
  if (threads == 0 && shards > host_options::threads_per_device_max)
    threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  // A pool shared by every device; without one each device starts a thread of its own. When
  // the devices' threads are as many as the cores or more, they would take the core from the
  // thread that queues a step's work while it queues (executor's `defer`).
  const std::size_t workers = threads != 0 ? std::min(threads, shards) : shards;
  const bool defer = workers >= std::max<std::size_t>(1, std::thread::hardware_concurrency());
  auto pool = threads != 0 ? std::make_shared<executor>(workers, defer) : nullptr;
  auto abandoned = std::make_shared<std::atomic<bool>>(false);  // device::abandon
  std::vector<std::unique_ptr<detail::device>> devices;
  for (std::size_t s = 0; s < shards; ++s)
    devices.push_back(std::make_unique<device>(static_cast<int>(s), options.memory_per_shard, pinned,
                                               options.cuda_semantics,
                                               pool ? pool : std::make_shared<executor>(1, defer),
                                               options.allocator, pool != nullptr, abandoned));
  for (std::size_t s = 0; s < options.speed.size(); ++s)
    static_cast<device&>(*devices[s]).set_speed(options.speed[s]);
  shard::topology topo;
  topo.backend = "host";
  for (auto& d : devices) topo.shards.push_back(d->properties());
  for (std::size_t a = 0; a < shards; ++a)
    for (std::size_t b = 0; b < shards; ++b) {
      link_properties l;
      l.same_device = a == b;
      l.peer_supported = l.peer_enabled = a != b && options.peer_access;
      l.performance_rank = l.peer_enabled ? 0 : -1;
      l.native_atomics = l.peer_enabled;
      topo.links.push_back(l);
    }
  auto impl = std::make_shared<detail::context_impl>(backend::host, std::move(devices), std::move(topo));
  // Failover: the same options over the shards kept (their speeds with them).
  impl->set_rebuild([options](const std::vector<std::size_t>& keep) {
    host_options o = options;
    if (!options.speed.empty()) {
      o.speed.clear();
      for (auto s : keep) o.speed.push_back(options.speed[s]);
    }
    return make_context(keep.size(), o);
  });
  return impl;
}

}  // namespace host_backend
SHARD_NAMESPACE_END
