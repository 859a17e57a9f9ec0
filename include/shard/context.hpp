#pragma once
/// @file context.hpp
/// shard::context: the shards an application computes on (GPUs, or emulated devices).
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/detail/context_impl.hpp>
#include <shard/detail/device.hpp>
#include <shard/error.hpp>
#include <shard/stats.hpp>
#include <shard/topology.hpp>

#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/context.hpp>
#endif

#include <cstdlib>
#include <memory>
#include <string>
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
};

/// The set of shards an application runs on. A cheap, copyable handle: copies share the
/// devices, queues, pools and counters. No global state: two contexts are independent.
class context {
 public:
  /// Default shard count of automatic() on a machine without GPUs, unless the environment
  /// variable SHARD_HOST_DEVICES says otherwise.
  static constexpr std::size_t default_host_devices = 4;

  /// `shards` emulated devices on the host, each with its own worker thread.
  /// Throws invalid_argument for 0 shards.
  static context host(std::size_t shards, host_options options = {}) {
    if (shards == 0) throw invalid_argument("context::host: the number of shards must be at least 1");
    std::vector<std::unique_ptr<detail::device>> devices;
    for (std::size_t s = 0; s < shards; ++s)
      devices.push_back(std::make_unique<host_backend::device>(static_cast<int>(s), options.memory_per_shard));
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
    return context(std::make_shared<detail::context_impl>(backend::host, std::move(devices), std::move(topo)));
  }

  /// One shard per visible GPU. Throws shard::error when there is none (or no driver), and
  /// always in a translation unit compiled without CUDA.
  static context cuda() {
#if SHARD_HAS_CUDA
    std::string why;
    const int count = cuda_backend::device_count(&why);
    if (count == 0) throw error("context::cuda: no CUDA device is available (" + why + ")");
    std::vector<int> all;
    for (int d = 0; d < count; ++d) all.push_back(d);
    return context(cuda_backend::make_context(all));
#else
    throw error("context::cuda: this translation unit was compiled without CUDA; compile it with nvcc");
#endif
  }

  /// One shard per listed GPU ordinal; an ordinal may repeat (several shards on one GPU).
  /// Throws invalid_argument for an empty list or an ordinal out of range.
  static context cuda(const std::vector<int>& ordinals) {
#if SHARD_HAS_CUDA
    return context(cuda_backend::make_context(ordinals));
#else
    if (ordinals.empty()) throw invalid_argument("context::cuda: the list of device ordinals is empty");
    throw error("context::cuda: this translation unit was compiled without CUDA; compile it with nvcc");
#endif
  }

  /// Every visible GPU if there is one (and this translation unit has CUDA), else the host
  /// backend with SHARD_HOST_DEVICES shards (default 4).
  static context automatic() {
    if (cuda_device_count() > 0) return cuda();
    return host(host_devices_from_environment());
  }

  /// Visible CUDA devices: 0 without a GPU or a usable driver (the probe's sticky error is
  /// cleared), and always 0 in a translation unit compiled without CUDA.
  static int cuda_device_count() {
#if SHARD_HAS_CUDA
    return cuda_backend::device_count();
#else
    return 0;
#endif
  }

  /// The shard count automatic() gives the host backend: SHARD_HOST_DEVICES, or
  /// default_host_devices when it is unset. Throws invalid_argument for a value that is not
  /// an integer from 1 to 1024.
  static std::size_t host_devices_from_environment() {
    const char* text = std::getenv("SHARD_HOST_DEVICES");
    if (text == nullptr || *text == '\0') return default_host_devices;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text, &end, 10);
    if (*end != '\0' || n == 0 || n > 1024 || text[0] == '-')
      throw invalid_argument(std::string("SHARD_HOST_DEVICES=\"") + text +
                             "\" is not a shard count (an integer from 1 to 1024)");
    return static_cast<std::size_t>(n);
  }

  /// Number of shards.
  std::size_t size() const noexcept { return impl_->size(); }
  /// The backend the shards run on.
  backend kind() const noexcept { return impl_->kind(); }
  /// Device ordinal of a shard (CUDA ordinal; the shard index on the host backend).
  int device(std::size_t shard) const { return impl_->dev(checked(shard)).ordinal(); }
  /// Whether shard `a` can access shard `b`'s memory directly (same GPU, or peer access
  /// enabled at creation; true on the host backend unless host_options::peer_access is off).
  bool peer_access(std::size_t a, std::size_t b) const { return impl_->peer_access(checked(a), checked(b)); }

  /// The devices and the links between shards (see topology.hpp); printable.
  const shard::topology& topology() const noexcept { return impl_->topology(); }

  /// Snapshot of the communication counters.
  shard::stats stats() const { return impl_->snapshot(); }
  /// Zeroes the counters (peak bytes restart from the bytes allocated now).
  void reset_stats() { impl_->reset(); }
  /// Waits until every shard is idle; throws the first failure of queued work.
  void synchronize() const { impl_->synchronize_all(); }

  /// Same devices (copies of one handle).
  friend bool operator==(const context& a, const context& b) noexcept { return a.impl_ == b.impl_; }

  /// Internal: the shared state. Not part of the stable API.
  detail::context_impl& impl() const noexcept { return *impl_; }

 private:
  explicit context(std::shared_ptr<detail::context_impl> impl) : impl_(std::move(impl)) {}

  std::size_t checked(std::size_t shard) const {
    if (shard >= size())
      throw invalid_argument("context: shard " + std::to_string(shard) + " out of range (the context has " +
                             std::to_string(size()) + " shards)");
    return shard;
  }

  std::shared_ptr<detail::context_impl> impl_;
};

SHARD_NAMESPACE_END
