#pragma once
/// @file backend/cuda/context.hpp
/// Building a CUDA context: probing the GPUs, enabling peer access, creating the pools.
#include <shard/allocator.hpp>
#include <shard/config.hpp>
#include <shard/backend/cuda/device.hpp>
#include <shard/backend/cuda/error.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/error.hpp>

#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// How a CUDA context runs (context::cuda(ordinals, options)), for an application that brings
/// its own streams and memory (docs/interop.md).
struct cuda_options {
  /// One stream per shard, created by the application on that shard's GPU (not a default
  /// stream): shard queues all of a shard's work there, in order with the application's work
  /// on it, and never creates, synchronises beyond its own calls, or destroys it. Empty: a
  /// non-blocking stream of shard's own per shard.
  std::vector<cudaStream_t> streams{};
  /// The application's device allocator (allocator.hpp); empty: a memory pool per GPU.
  shard::allocator allocator{};
};

namespace cuda_backend {

/// Number of visible GPUs; 0 when there is none or no usable driver. `why` receives the
/// runtime's message in that case. Clears the sticky error the probe leaves behind.
inline int device_count(std::string* why = nullptr) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && why) *why = "cudaGetDeviceCount reported 0 devices";
  return count;
}

/// Throws invalid_argument unless `streams` is empty or one stream per shard, each created on
/// its shard's GPU, none of them a default stream, no two shards on one stream.
inline void check_streams(const std::vector<int>& ordinals, const std::vector<cudaStream_t>& streams) {
  if (streams.empty()) return;
  if (streams.size() != ordinals.size())
    throw invalid_argument("context::cuda: " + std::to_string(streams.size()) + " streams given for " +
                           std::to_string(ordinals.size()) + " shards (cuda_options::streams: one per shard)");
  for (std::size_t s = 0; s < streams.size(); ++s) {
    const std::string which = "context::cuda: the stream of shard " + std::to_string(s);
    if (streams[s] == nullptr || streams[s] == cudaStreamLegacy || streams[s] == cudaStreamPerThread)
      throw invalid_argument(which + " is a default stream, which synchronises with other streams of its GPU; "
                             "give a stream made with cudaStreamCreate(WithFlags)");
    for (std::size_t t = 0; t < s; ++t)
      if (streams[t] == streams[s])
        throw invalid_argument(which + " is also the stream of shard " + std::to_string(t) +
                               " (every shard needs a stream of its own)");
#if CUDART_VERSION >= 12080  // cudaStreamGetDevice: CUDA 12.8 and newer
    int device = -1;
    SHARD_DETAIL_CUDA_THROW(cudaStreamGetDevice(streams[s], &device), static_cast<int>(s), ordinals[s]);
    if (device != ordinals[s])
      throw invalid_argument(which + " belongs to GPU " + std::to_string(device) + ", the shard runs on GPU " +
                             std::to_string(ordinals[s]));
#endif
  }
}

/// A context over `ordinals` (repeats allowed: several shards on one GPU), on the
/// application's streams and allocator when `options` has them.
inline std::shared_ptr<detail::context_impl> make_context(const std::vector<int>& ordinals,
                                                          const cuda_options& options = {}) {
  if (ordinals.empty()) throw invalid_argument("context::cuda: the list of device ordinals is empty");
  detail::check_allocator(options.allocator, "context::cuda (cuda_options::allocator)");
  std::string why;
  const int count = device_count(&why);
  for (std::size_t i = 0; i < ordinals.size(); ++i) {
    if (ordinals[i] < 0 || ordinals[i] >= count)
      throw invalid_argument("context::cuda: device ordinal " + std::to_string(ordinals[i]) + " (shard " +
                             std::to_string(i) + ") is out of range: " + std::to_string(count) +
                             " CUDA device(s) visible" + (count == 0 ? " (" + why + ")" : std::string()));
  }
  check_streams(ordinals, options.streams);
  const std::size_t g = ordinals.size();
  // Peer access between distinct GPUs, enabled for every pair that supports it; the
  // attributes of each pair of GPUs are read once.
  struct pair_info {
    bool capable = false;    // cudaDeviceCanAccessPeer
    bool supported = false;  // and enabled
    int rank = -1;
    bool atomics = false;
  };
  std::map<std::pair<int, int>, pair_info> pairs;
  shard::topology topo;
  topo.backend = "cuda";
  topo.links.resize(g * g);
  for (std::size_t a = 0; a < g; ++a) {
    for (std::size_t b = 0; b < g; ++b) {
      const int da = ordinals[a], db = ordinals[b];
      link_properties& l = topo.links[a * g + b];
      if (da == db) {
        l.same_device = true;
        continue;
      }
      auto it = pairs.find({da, db});
      if (it == pairs.end()) {
        pair_info info;
        int can = 0;
        SHARD_DETAIL_CUDA_THROW(cudaDeviceCanAccessPeer(&can, da, db), static_cast<int>(a), da);
        info.capable = info.supported = can != 0;
        if (info.supported) {
          device_guard guard(da);
          const cudaError_t status = cudaDeviceEnablePeerAccess(db, 0);
          if (status == cudaErrorPeerAccessAlreadyEnabled) {
            (void)cudaGetLastError();
          } else if (status == cudaErrorTooManyPeers) {
            // The hardware's peer limit (8 peers per GPU on many systems): this pair takes
            // the staged route instead.
            (void)cudaGetLastError();
            info.supported = false;
          } else {
            SHARD_DETAIL_CUDA_THROW(status, static_cast<int>(a), da);
          }
        }
        if (info.supported) {
          int value = 0;
          SHARD_DETAIL_CUDA_THROW(cudaDeviceGetP2PAttribute(&value, cudaDevP2PAttrPerformanceRank, da, db),
                                  static_cast<int>(a), da);
          info.rank = value;
          SHARD_DETAIL_CUDA_THROW(cudaDeviceGetP2PAttribute(&value, cudaDevP2PAttrNativeAtomicSupported, da, db),
                                  static_cast<int>(a), da);
          info.atomics = value != 0;
        }
        it = pairs.emplace(std::make_pair(da, db), info).first;
      }
      l.peer_supported = it->second.capable;
      l.peer_enabled = it->second.supported;
      l.performance_rank = it->second.rank;
      l.native_atomics = it->second.atomics;
    }
  }
  std::map<std::pair<int, int>, bool> pair_access;
  for (auto& [key, info] : pairs) pair_access[key] = info.supported;
  // One pool per GPU, shared by the shards on it; peers with access may touch its memory.
  // None with the application's allocator (its memory, its pools' access rules).
  std::map<int, std::shared_ptr<memory_pool>> pools;
  for (int d : ordinals)
    if (!options.allocator && !pools.count(d)) pools[d] = std::make_shared<memory_pool>(d);
  for (auto& [d, pool] : pools)
    for (auto& [other, unused] : pools)
      if (other != d && pair_access[{other, d}]) pool->grant_access(other);
  // With the application's allocator the copies between shards still take the peer route
  // where peer access is on; memory from a memory pool follows cudaMemPoolSetAccess, not
  // cudaDeviceEnablePeerAccess. The GPUs' default pools (cudaMallocAsync) are given the same
  // access as shard's own would have; an application's own pools must grant it themselves.
  if (options.allocator)
    for (const auto& [key, enabled] : pair_access) {
      const auto [from, to] = key;  // `from` may access memory of `to`
      if (!enabled || from == to) continue;
      cudaMemPool_t pool = nullptr;
      SHARD_DETAIL_CUDA_THROW(cudaDeviceGetDefaultMemPool(&pool, to), -1, to);
      cudaMemAccessDesc desc{};
      desc.location.type = cudaMemLocationTypeDevice;
      desc.location.id = from;
      desc.flags = cudaMemAccessFlagsProtReadWrite;
      device_guard g(to);
      SHARD_DETAIL_CUDA_THROW(cudaMemPoolSetAccess(pool, &desc, 1), -1, to);
    }

  std::vector<std::unique_ptr<detail::device>> devices;
  for (std::size_t s = 0; s < g; ++s)
    devices.push_back(std::make_unique<device>(static_cast<int>(s), ordinals[s],
                                               options.allocator ? nullptr : pools[ordinals[s]],
                                               options.streams.empty() ? nullptr : options.streams[s],
                                               options.allocator));
  for (auto& d : devices) topo.shards.push_back(d->properties());
  auto impl = std::make_shared<detail::context_impl>(backend::cuda, std::move(devices), std::move(topo));
  // Failover: the same options over the shards kept (their GPUs, and their streams when the
  // application gave them).
  impl->set_rebuild([ordinals, options](const std::vector<std::size_t>& keep) {
    std::vector<int> kept;
    cuda_options o = options;
    o.streams.clear();
    for (auto s : keep) {
      kept.push_back(ordinals[s]);
      if (!options.streams.empty()) o.streams.push_back(options.streams[s]);
    }
    return make_context(kept, o);
  });
  return impl;
}

}  // namespace cuda_backend
SHARD_NAMESPACE_END
