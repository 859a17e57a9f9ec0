#pragma once
/// @file context.hpp
/// shard::context: the shards an application computes on (GPUs, or emulated devices).
#include <shard/config.hpp>
#include <shard/communicator.hpp>
#include <shard/backend/host/context.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/core/device.hpp>
#include <shard/error.hpp>
#include <shard/stats.hpp>
#include <shard/topology.hpp>

#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/context.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN

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
    return context(host_backend::make_context(shards, options));
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

#if SHARD_HAS_CUDA
  /// One shard per listed GPU ordinal, on the application's streams and/or allocator
  /// (cuda_options; docs/interop.md). Throws invalid_argument as cuda(ordinals) does, and for
  /// streams that are not one per shard on its GPU, or an allocator with one callable of two.
  /// Only in a CUDA translation unit.
  static context cuda(const std::vector<int>& ordinals, const cuda_options& options) {
    return context(cuda_backend::make_context(ordinals, options));
  }
#endif

  /// `shards` shards mapped round-robin onto the visible GPUs (shard s on GPU s mod count):
  /// one per GPU when `shards` equals the GPU count, several per GPU when it is larger.
  /// Throws like cuda() when there is no GPU, and invalid_argument for 0 shards.
  static context cuda_round_robin(std::size_t shards) {
    if (shards == 0) throw invalid_argument("context::cuda_round_robin: the number of shards must be at least 1");
    const int gpus = cuda_device_count();
    if (gpus == 0) return cuda();  // throws, saying why
    return cuda(round_robin_ordinals(shards, static_cast<std::size_t>(gpus)));
  }

  /// The GPU of each of `shards` shards laid round-robin onto `gpus` GPUs: 0, 1, ..., gpus-1, 0, ...
  static std::vector<int> round_robin_ordinals(std::size_t shards, std::size_t gpus) {
    if (gpus == 0) throw invalid_argument("context::round_robin_ordinals: there are no GPUs to map shards onto");
    std::vector<int> ordinals;
    for (std::size_t s = 0; s < shards; ++s) ordinals.push_back(static_cast<int>(s % gpus));
    return ordinals;
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

  /// A context over several processes ("ranks", SPMD): the shards of every rank of `comm`,
  /// numbered rank by rank (rank 0's local shards first), this rank's being those of `local`
  /// (any single-process context; ranks may have different numbers of shards, on one
  /// backend). Collective: every rank calls it, and from then on makes the same calls on the
  /// context's vectors in the same order with the same arguments, as with MPI collectives.
  /// shard::mpi::context (shard/mpi.hpp) makes one over an MPI communicator; thread_ranks
  /// (shard/thread_ranks.hpp) gives communicators of ranks that are threads. The local
  /// context's devices are shared; its calls and this context's take turns. Throws
  /// invalid_argument when `local` is itself an SPMD context, the communicator is null, or
  /// the ranks' backends differ; shard::timeout when a rank does not answer in time.
  static context spmd(std::shared_ptr<shard::communicator> comm, const context& local) {
    return context(std::make_shared<detail::context_impl>(local.impl_, std::move(comm)));
  }

  /// Number of shards (of every rank, in an SPMD context).
  std::size_t size() const noexcept { return impl_->size(); }
  /// The backend the shards run on.
  backend kind() const noexcept { return impl_->kind(); }
  /// Device ordinal of a shard (CUDA ordinal; the shard index on the host backend; on the
  /// rank that drives it, in an SPMD context).
  int device(std::size_t shard) const { return impl_->topology().shards[checked(shard)].ordinal; }

  /// This process's rank in an SPMD context (0 in a single-process one).
  int rank() const noexcept { return impl_->rank(); }
  /// Number of ranks (1 in a single-process context).
  int ranks() const noexcept { return impl_->ranks(); }
  /// The rank that drives `shard`.
  int rank_of(std::size_t shard) const { return impl_->rank_of(checked(shard)); }
  /// Whether this process drives `shard` (its segments' data are readable here).
  bool is_local(std::size_t shard) const { return impl_->local(checked(shard)); }
  /// The shards this process drives, ascending (all of them in a single-process context).
  const std::vector<std::size_t>& local_shards() const noexcept { return impl_->local_shards(); }
  /// Whether shard `a` can access shard `b`'s memory directly (same GPU, or peer access
  /// enabled at creation; true on the host backend unless host_options::peer_access is off).
  bool peer_access(std::size_t a, std::size_t b) const { return impl_->peer_access(checked(a), checked(b)); }

  /// The devices and the links between shards (see topology.hpp); printable.
  const shard::topology& topology() const noexcept { return impl_->topology(); }

  /// Snapshot of the communication counters (this rank's, in an SPMD context: bytes this
  /// rank sent, launches on its shards, its host syncs).
  shard::stats stats() const { return impl_->snapshot(); }
  /// Every rank's counters summed (collective in an SPMD context; stats() otherwise): bytes
  /// and launches per shard as one process would count them, host syncs and call times summed
  /// over the ranks, peak bytes per shard from the rank that drives it.
  shard::stats global_stats() const { return impl_->global_snapshot(); }
  /// Zeroes the counters (peak bytes restart from the bytes allocated now).
  void reset_stats() { impl_->reset(); }

  /// Starts recording a trace of this context (as SHARD_TRACE=FILE does from its creation):
  /// every public call and phase, every host wait, and per shard the primitives and copies
  /// that ran there with its busy time in each call and phase (docs/design.md, "A look
  /// inside"). Recording costs a few bytes per span; it keeps 4 Mi spans at most.
  void start_trace() {
    const auto turn = impl_->exclusive();
    impl_->start_trace();
  }
  /// Stops recording the trace and drops it (also SHARD_TRACE's: no file is written).
  void stop_trace() {
    const auto turn = impl_->exclusive();
    impl_->stop_trace();
  }
  /// The trace recorded so far, as Chrome trace-event JSON (Perfetto, chrome://tracing); empty
  /// when none is recorded.
  std::string trace_json() const {
    const auto turn = impl_->exclusive();
    return impl_->trace_json();
  }
  /// Writes trace_json() to `path` (a context made with SHARD_TRACE=FILE writes FILE when it is
  /// destroyed, with ".rank<r>" before the extension on the ranks of an SPMD context). Throws
  /// shard::error when no trace is recorded or the file cannot be written.
  void write_trace(const std::string& path) const {
    const auto turn = impl_->exclusive();
    impl_->write_trace(path);
  }
  /// Waits until every shard is idle; throws the first failure of queued work.
  void synchronize() const {
    const auto turn = impl_->exclusive();
    impl_->synchronize_all();
  }

  /// How long one wait of the host on the shards may take before shard::timeout; zero means
  /// no deadline. The default is SHARD_WAIT_TIMEOUT seconds from the environment, or 600 s.
  std::chrono::nanoseconds wait_timeout() const noexcept { return impl_->wait_timeout(); }
  /// Sets the wait deadline for this context (and its copies). Throws invalid_argument for a
  /// negative duration.
  void set_wait_timeout(std::chrono::nanoseconds timeout) { impl_->set_wait_timeout(timeout); }
  /// False after a wait passed its deadline (shard::timeout): every later call on the context
  /// throws shard::error; create a new one. Destroying it neither waits nor throws.
  bool usable() const noexcept { return impl_->usable(); }

  /// The shards that have had a sticky fault (shard::device_fault: a GPU's illegal address or
  /// trap, testing::inject_device_fault on the host backend), ascending. Collective in an SPMD
  /// context (every rank learns every rank's). No device work.
  std::vector<std::size_t> faulted_shards() const {
    const auto turn = impl_->exclusive();
    const auto faulted = impl_->faulted_shards();
    std::vector<std::size_t> out;
    for (std::size_t s = 0; s < faulted.size(); ++s)
      if (faulted[s]) out.push_back(s);
    return out;
  }

  /// A context over this one's shards that have not faulted (faulted_shards), in the same
  /// order (its shard i is the i-th survivor), of the same backend and options (the
  /// application's streams and allocator, the emulated devices' speeds and capacities): new
  /// queues, pools and counters on the same devices. salvage (<shard/failover.hpp>) moves
  /// vectors onto it. Collective in an SPMD context, over the same communicator: a rank whose
  /// shards all faulted stays a rank with no shard (it holds no elements and still makes every
  /// collective call). Throws shard::error when no shard survived. docs/failover.md has the
  /// recipe.
  context survivors() const {
    const auto turn = impl_->exclusive();
    impl_->require_usable();
    const auto faulted = impl_->faulted_shards();
    std::vector<std::size_t> kept;
    for (std::size_t s = 0; s < faulted.size(); ++s)
      if (!faulted[s]) kept.push_back(s);
    if (kept.empty()) throw error("context::survivors: every shard has faulted: no device is left to carry on");
    std::shared_ptr<detail::context_impl> fresh;
    if (!impl_->spmd()) {
      fresh = impl_->rebuild()(kept);
    } else {
      // This rank's survivors, as shards of its local context.
      const std::size_t base = impl_->first_shard(impl_->rank());
      std::vector<std::size_t> mine;
      for (auto s : impl_->local_shards())
        if (!faulted[s]) mine.push_back(s - base);
      std::shared_ptr<detail::context_impl> local;
      if (mine.empty()) {
        shard::topology none;
        none.backend = impl_->topology().backend;
        local = std::make_shared<detail::context_impl>(impl_->kind(), std::vector<std::unique_ptr<detail::device>>{},
                                                       std::move(none));
        local->set_host_helper(std::make_unique<host_backend::device>(-1, 0));
      } else {
        local = impl_->rebuild()(mine);
      }
      local->set_wait_timeout(impl_->wait_timeout());
      fresh = std::make_shared<detail::context_impl>(local, impl_->shared_comm());
    }
    fresh->set_wait_timeout(impl_->wait_timeout());
    fresh->set_origin(impl_, std::move(kept));
    return context(std::move(fresh));
  }

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
