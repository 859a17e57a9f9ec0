#pragma once
/// @file core/context_impl.hpp
/// What a context handle shares: the shards' devices, the topology, the communication
/// counters, the pinned host memory of its transfers, the collective engine, and the deadline
/// of its waits. The counters are fed by the backend-agnostic layer only.
///
/// An SPMD context (one process per rank, context::spmd) numbers every rank's shards, rank by
/// rank, but holds devices only for its own ("local") shards: dev(s) is valid only where
/// local(s). The devices belong to the local single-process context it was made from, which it
/// keeps alive; its calls take turns with that context's calls (one call lock).
#include <shard/config.hpp>
#include <shard/calibration.hpp>
#include <shard/core/collective_engine.hpp>
#include <shard/core/device.hpp>
#include <shard/core/ranks.hpp>
#include <shard/core/staging.hpp>
#include <shard/core/trace.hpp>
#include <shard/error.hpp>
#include <shard/stats.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// The wait deadline a new context gets: SHARD_WAIT_TIMEOUT seconds (a decimal number; 0 means
/// no deadline), or 600 s when it is unset. Throws invalid_argument for anything else.
inline std::chrono::nanoseconds wait_timeout_from_environment() {
  constexpr double default_seconds = 600;
  const char* text = std::getenv("SHARD_WAIT_TIMEOUT");
  double seconds = default_seconds;
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    seconds = std::strtod(text, &end);
    if (*end != '\0' || !std::isfinite(seconds) || seconds < 0 || seconds > 1e9)
      throw invalid_argument(std::string("SHARD_WAIT_TIMEOUT=\"") + text +
                             "\" is not a number of seconds (0 for no deadline)");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
}

/// The trace file a new context writes (SHARD_TRACE), or empty.
inline std::string trace_path_from_environment() {
  const char* text = std::getenv("SHARD_TRACE");
  return text == nullptr ? std::string() : std::string(text);
}

class context_impl {
 public:
  context_impl(backend kind, std::vector<std::unique_ptr<device>> devices, shard::topology topo)
      : kind_(kind), devices_(std::move(devices)), topology_(std::move(topo)) {
    for (auto& d : devices_) view_.push_back(d.get());
    for (std::size_t s = 0; s < view_.size(); ++s) local_shards_.push_back(s);
    wait_timeout_ = wait_timeout_from_environment();
    init_counters();
    init_trace();
  }

  /// An SPMD context over `comm`: this rank's shards are those of `local` (a single-process
  /// context), every other rank's are known by their properties. Collective: every rank of
  /// `comm` constructs one. Throws invalid_argument (on every rank) when the ranks' backends
  /// differ, shard::timeout when a rank does not answer within the wait deadline.
  context_impl(std::shared_ptr<context_impl> local, std::shared_ptr<communicator> comm)
      : kind_(local->kind()), local_(std::move(local)) {
    if (local_->spmd()) throw invalid_argument("context::spmd: the local context already spans several ranks");
    if (!comm) throw invalid_argument("context::spmd: the communicator is null");
    wait_timeout_ = local_->wait_timeout();
    ranks_ = std::make_unique<rank_state>();
    ranks_->comm = std::move(comm);
    ranks_->rank = ranks_->comm->rank();
    ranks_->ranks = ranks_->comm->size();
    const int me = ranks_->rank, n = ranks_->ranks;
    const std::string host = ranks_->comm->host_name();
    // Every rank's shard count, then every shard's properties.
    std::vector<std::uint64_t> counts(static_cast<std::size_t>(n));
    const std::uint64_t mine = local_->size();
    communicate("context::spmd (shard counts)", [&](auto deadline) {
      return ranks_->comm->all_gather_v(&mine, counts.data(), std::vector<std::size_t>(n, sizeof(std::uint64_t)), deadline);
    });
    ranks_->first.assign(static_cast<std::size_t>(n) + 1, 0);
    for (int r = 0; r < n; ++r) ranks_->first[r + 1] = ranks_->first[r] + counts[r];
    const std::size_t g = ranks_->first[n];
    std::vector<shard_record> records(g), own;
    for (std::size_t s = 0; s < local_->size(); ++s)
      own.push_back(make_shard_record(local_->dev(s).properties(), static_cast<std::uint32_t>(kind_), host));
    std::vector<std::size_t> bytes(static_cast<std::size_t>(n));
    for (int r = 0; r < n; ++r) bytes[r] = counts[r] * sizeof(shard_record);
    communicate("context::spmd (shard properties)",
                [&](auto deadline) { return ranks_->comm->all_gather_v(own.data(), records.data(), bytes, deadline); });
    for (std::size_t s = 0; s < g; ++s)
      if (records[s].backend != records[0].backend)
        throw invalid_argument("context::spmd: the ranks' local contexts have different backends (shard 0 is " +
                               std::string(records[0].backend == 0 ? "host" : "cuda") + ", shard " +
                               std::to_string(s) + " " + (records[s].backend == 0 ? "host" : "cuda") + ")");
    ranks_->rank_of.assign(g, 0);
    ranks_->hosts.assign(static_cast<std::size_t>(n), std::string());
    for (int r = 0; r < n; ++r)
      for (std::size_t s = ranks_->first[r]; s < ranks_->first[r + 1]; ++s) {
        ranks_->rank_of[s] = r;
        ranks_->hosts[r] = records[s].host;
      }
    view_.assign(g, nullptr);
    for (std::size_t s = 0; s < local_->size(); ++s) {
      view_[ranks_->first[me] + s] = &local_->dev(s);
      local_shards_.push_back(ranks_->first[me] + s);
    }
    topology_.backend = local_->topology().backend;
    for (std::size_t s = 0; s < g; ++s) topology_.shards.push_back(properties_of(records[s], ranks_->rank_of[s]));
    const std::size_t base = ranks_->first[me];
    for (std::size_t a = 0; a < g; ++a)
      for (std::size_t b = 0; b < g; ++b) {
        link_properties l;
        if (ranks_->rank_of[a] != ranks_->rank_of[b]) {
          l.other_rank = true;
          l.other_node = topology_.shards[a].host != topology_.shards[b].host;
        } else if (ranks_->rank_of[a] == me) {
          l = local_->topology().link(a - base, b - base);
        } else {
          l.same_device = a == b;  // another rank's own pairs: known to that rank only
        }
        topology_.links.push_back(l);
      }
    init_counters();
    init_trace();
  }
  ~context_impl() {
    // Every public call waits for its shards, so the queues are idle here; the wait below is
    // bounded by the deadline and skipped once the context has given up on its shards.
    // Communicators and staging buffers go first (the queues use them), then the devices
    // (their destructors drain the queues), then the memory pools (held by the devices).
    if (usable_) synchronize_all_noexcept();
    if (const auto t = tracer(); t && !trace_path_.empty() && !t->empty()) {
      try {
        write_trace(file_for_rank(trace_path_));
      } catch (...) {  // a destructor never throws: the trace is lost
      }
    }
    engine_.reset();
    if (!usable_ && !drain_abandoned()) {
      // A device still runs work that never ends, and may have copies into the pinned chunks
      // and slots queued behind it: those stay allocated (freeing pinned memory is not ordered
      // against the copies). The host emulation drains at once, so it frees everything.
      for (auto& pool : staging_)
        if (pool) pool->leak();
      pinned_slots_[0] = pinned_slots_[1] = nullptr;
    }
    staging_.clear();
    for (int a = 0; a < 2; ++a)
      if (pinned_slots_[a] != nullptr) host_device().deallocate_host(pinned_slots_[a], pinned_slots_bytes_[a]);
    view_.clear();
    devices_.clear();
    local_.reset();
    host_helper_.reset();
  }
  context_impl(const context_impl&) = delete;
  context_impl& operator=(const context_impl&) = delete;

  backend kind() const noexcept { return kind_; }
  /// Number of shards (of every rank, in an SPMD context).
  std::size_t size() const noexcept { return view_.size(); }
  /// A local shard's device (every shard is local in a single-process context).
  device& dev(std::size_t shard) const { return *view_[shard]; }
  /// Whether this process drives `shard`.
  bool local(std::size_t shard) const noexcept { return view_[shard] != nullptr; }
  /// The shards this process drives, ascending (all of them in a single-process context).
  const std::vector<std::size_t>& local_shards() const noexcept { return local_shards_; }
  /// The device of the first local shard: it allocates the context's pinned host memory (a
  /// rank of an SPMD context left with no shard of its own after a failover: a helper that
  /// allocates host memory only).
  device& host_device() const {
    if (!local_shards_.empty()) return *view_[local_shards_.front()];
    if (host_helper_) return *host_helper_;
    return local_->host_device();  // an SPMD context whose rank has no shard: its local context's helper
  }

  // --- failover -----------------------------------------------------------------------
  /// Makes a context of the same backend and options over some of this single-process
  /// context's shards (`keep`: ascending shard indices, none of them faulted); set by each
  /// backend's make_context.
  using rebuild_fn = std::function<std::shared_ptr<context_impl>(const std::vector<std::size_t>& keep)>;
  void set_rebuild(rebuild_fn f) { rebuild_ = std::move(f); }
  const rebuild_fn& rebuild() const noexcept { return local_ ? local_->rebuild_ : rebuild_; }
  /// A context of survivors (context::survivors) knows the context it was made from and, for
  /// each of its shards, that context's shard (ascending).
  void set_origin(const std::shared_ptr<context_impl>& from, std::vector<std::size_t> kept) {
    origin_ = from;
    kept_ = std::move(kept);
  }
  bool made_from(const context_impl& other) const noexcept {
    const auto from = origin_.lock();
    return from.get() == &other;
  }
  const std::vector<std::size_t>& kept() const noexcept { return kept_; }
  /// The host memory of a local context with no shards (an SPMD rank whose shards all faulted).
  void set_host_helper(std::unique_ptr<device> helper) { host_helper_ = std::move(helper); }
  /// The local context of an SPMD context (null for a single-process one).
  const std::shared_ptr<context_impl>& local_context() const noexcept { return local_; }
  /// Whether each shard has had a sticky fault (device::faulted), as every rank sees it:
  /// collective in an SPMD context.
  std::vector<char> faulted_shards() {
    std::vector<char> faulted(size(), 0);
    for (auto s : local_shards_) faulted[s] = dev(s).faulted() ? 1 : 0;
    if (!ranks_) return faulted;
    std::vector<std::size_t> bytes(static_cast<std::size_t>(ranks_->ranks));
    for (int r = 0; r < ranks_->ranks; ++r) bytes[static_cast<std::size_t>(r)] = first_shard(r + 1) - first_shard(r);
    const char* mine = faulted.data() + first_shard(rank());
    communicate("the faulted shards", [&](auto deadline) { return ranks_->comm->all_gather_v(mine, faulted.data(), bytes, deadline); });
    return faulted;
  }
  /// The communicator of an SPMD context, shared (a context of its survivors runs on it too).
  const std::shared_ptr<communicator>& shared_comm() const noexcept { return ranks_->comm; }

  // --- ranks (SPMD contexts) --------------------------------------------------------
  /// Whether the context spans several processes (context::spmd).
  bool spmd() const noexcept { return ranks_ != nullptr; }
  /// This process's rank and the number of ranks (0 and 1 in a single-process context).
  int rank() const noexcept { return ranks_ ? ranks_->rank : 0; }
  int ranks() const noexcept { return ranks_ ? ranks_->ranks : 1; }
  /// The rank that drives `shard`.
  int rank_of(std::size_t shard) const noexcept { return ranks_ ? ranks_->rank_of[shard] : 0; }
  /// Rank r drives the shards [first_shard(r), first_shard(r + 1)).
  std::size_t first_shard(int r) const noexcept { return ranks_ ? ranks_->first[r] : (r == 0 ? 0 : size()); }
  /// The communicator of an SPMD context (spmd() must hold).
  communicator& comm() const noexcept { return *ranks_->comm; }

  /// Runs `call(deadline)`, a communicator call, under the context's wait deadline; past it
  /// (call returns false) the context gives up: it is unusable from then on, and this throws
  /// shard::timeout naming `what`. Failures the communicator throws pass through.
  template <class Call>
  void communicate(const char* what, Call&& call) {
    deferred_wakeups::flush();  // before any wait (core/device.hpp): a communicator of the user's may block
    if (!call(deadline())) std::rethrow_exception(give_up_ranks(what));
  }

  /// The ranks agree on the outcome of a step: every rank contributes whether it failed
  /// (`failure`) and the step's shape (what it is about to do, as text; ranks called with
  /// the same arguments describe a step identically). When a rank failed, every rank throws:
  /// its own exception where it failed, shard::error naming the failed rank elsewhere (its
  /// type where it is shard::out_of_memory's or invalid_argument's kind: see below). When the
  /// shapes differ, every rank throws invalid_argument naming both. A single-process context
  /// rethrows `failure` at once. Past the deadline: shard::timeout (and the context is
  /// unusable).
  void agree(std::exception_ptr failure, const std::string& shape) {
    if (!ranks_) {
      if (failure) std::rethrow_exception(failure);
      return;
    }
    const int n = ranks_->ranks;
    const outcome_record mine = make_outcome(failure, shape);
    std::vector<outcome_record> all(static_cast<std::size_t>(n));
    try {
      communicate("an agreement between the ranks", [&](auto deadline) {
        return ranks_->comm->all_gather_v(&mine, all.data(), std::vector<std::size_t>(n, sizeof(outcome_record)),
                                          deadline);
      });
    } catch (...) {
      ranks_->agreed = std::current_exception();
      throw;
    }
    // A failure other than an argument check's may have come from the collective library on
    // some rank: every rank then drops its engine, so that all make new ones together at their
    // next use. Argument checks fail before any data moves: the engine stays (communicators
    // an application gave, shard::nccl::use_communicators, are not aborted for a wrong size).
    bool engine_suspect = false;
    for (const auto& o : all)
      engine_suspect = engine_suspect || (o.status != outcome_record::ok && o.status != outcome_record::invalid_argument);
    for (int r = 0; r < n; ++r) {
      const auto& o = all[static_cast<std::size_t>(r)];
      if (o.status == outcome_record::ok) continue;
      if (engine_suspect) abort_collective_engine();
      if (failure) {
        ranks_->agreed = failure;
        std::rethrow_exception(failure);
      }
      const std::string message = std::string("rank ") + std::to_string(r) + " failed: " + o.message;
      std::exception_ptr remote;
      try {
        if (o.status == outcome_record::invalid_argument) throw invalid_argument(message);
        throw error(message);
      } catch (...) {
        remote = std::current_exception();
      }
      ranks_->agreed = remote;
      std::rethrow_exception(remote);
    }
    for (int r = 1; r < n; ++r) {
      const auto& a = all[0];
      const auto& b = all[static_cast<std::size_t>(r)];
      if (a.shape_hash == b.shape_hash) continue;
      std::exception_ptr differ;
      try {
        throw invalid_argument("the ranks' calls differ (the same collective calls, with the same arguments, must be "
                               "made on every rank): rank 0: " + std::string(a.shape) + "; rank " + std::to_string(r) +
                               ": " + b.shape);
      } catch (...) {
        differ = std::current_exception();
      }
      ranks_->agreed = differ;
      std::rethrow_exception(differ);
    }
    ranks_->agreed = nullptr;
  }

  /// The public call running now and its arguments' layout (call_scope, SPMD contexts only):
  /// part of every step's shape. Returns the previous signature.
  std::string set_call_signature(std::string signature) { return std::exchange(signature_, std::move(signature)); }
  /// A step's shape as the ranks compare it: the call's signature and `what`.
  std::string step_shape(const std::string& what) const {
    if (!ranks_) return {};
    return (signature_.empty() ? std::string("(no call)") : signature_) + ": " + what;
  }

  /// The end of a step: waits for the local shards (synchronize_all) and, in an SPMD
  /// context, agrees with the other ranks on the outcome (agree), so that every rank throws
  /// when any failed. Past a deadline it throws shard::timeout without an agreement.
  void finish_step(const std::string& what) {
    if (!ranks_) return synchronize_all();
    std::exception_ptr failure;
    try {
      synchronize_all();
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure && !usable_) std::rethrow_exception(failure);
    agree(failure, step_shape(what));
  }

  /// In a failure handler: the ranks agree on `failure` unless they already did (it is the
  /// failure of the last agreement, propagating), then it is rethrown. In a single-process
  /// context: rethrown at once.
  [[noreturn]] void agree_on_failure(std::exception_ptr failure, const std::string& shape) {
    if (ranks_ && ranks_->agreed != failure && usable_) agree(failure, shape);
    std::rethrow_exception(failure);
  }
  const shard::topology& topology() const noexcept { return topology_; }
  /// Shards on one device: their copies are device-local.
  bool same_device(std::size_t a, std::size_t b) const { return topology_.link(a, b).same_device; }
  /// `a` may access `b`'s memory directly: one device, or peer access enabled.
  bool peer_access(std::size_t a, std::size_t b) const {
    const auto& l = topology_.link(a, b);
    return l.same_device || l.peer_enabled;
  }

  /// The pinned host chunks of `shard`'s host traffic (staging.hpp), created on first use.
  staging_pool& staging(std::size_t shard) {
    if (!staging_[shard]) staging_[shard] = std::make_unique<staging_pool>(dev(shard));
    return *staging_[shard];
  }

  /// Serialises the calls on this context: every public call (and every phase, every host
  /// transfer) holds it, so that two host threads using one context take turns instead of
  /// sharing its pinned slots, staging chunks and queues mid-call. Recursive: a call that
  /// makes other calls holds it once more. A call waits for the other thread's call to finish.
  /// An SPMD context shares the lock of its local context.
  std::unique_lock<std::recursive_mutex> exclusive() {
    return std::unique_lock<std::recursive_mutex>(local_ ? local_->call_mutex_ : call_mutex_);
  }

  /// At least `bytes` of pinned host memory owned by the context, for small transfers such as
  /// the partials of a reduction (copied from every shard at once, without blocking the host).
  /// Valid until the next call for the same `area`; the caller holds exclusive(). Two areas,
  /// so that one phase can upload from one (area 1: values the host sends to the shards)
  /// while it gathers into the other (area 0).
  void* pinned_slots(std::size_t bytes, int area = 0) {
    if (bytes > pinned_slots_bytes_[area]) {
      const std::size_t grown = std::max<std::size_t>(bytes, 4096);
      void* p = host_device().allocate_host(grown);
      if (pinned_slots_[area] != nullptr) host_device().deallocate_host(pinned_slots_[area], pinned_slots_bytes_[area]);
      pinned_slots_[area] = p;
      pinned_slots_bytes_[area] = grown;
    }
    return pinned_slots_[area];
  }

  /// The collective library's state (NCCL communicators: core/collective_engine.hpp), kept
  /// for the context's life or until it is aborted; null while no collective has needed one.
  /// The context's waits poll it and abort it with a bound (abort_collective_engine).
  void set_collective_engine(std::shared_ptr<collective_engine> engine) noexcept { engine_ = std::move(engine); }
  const std::shared_ptr<collective_engine>& engine() const noexcept { return engine_; }
  /// Drops the collective state (after a failure, so the next call starts afresh).
  void reset_collective_engine() noexcept { engine_.reset(); }

  // --- accounting -----------------------------------------------------------------
  /// source/destination: shard index or stats::host.
  void count_bytes(int source, int destination, std::uint64_t bytes) {
    if (bytes == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t g = size();
    const std::size_t s = source == stats::host ? g : static_cast<std::size_t>(source);
    const std::size_t d = destination == stats::host ? g : static_cast<std::size_t>(destination);
    counters_.bytes[s * (g + 1) + d] += bytes;
  }
  void count_launch(std::size_t shard) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.launches[shard];
  }
  void count_host_sync() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.host_syncs;
  }
  void count_allocation(std::size_t shard, std::uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_[shard] += bytes;
    counters_.peak_bytes[shard] = std::max(counters_.peak_bytes[shard], in_use_[shard]);
  }
  void count_deallocation(std::size_t shard, std::uint64_t bytes) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_[shard] -= bytes;
  }
  /// A span of a public call (phase = false; `outermost` when no other call made it) or of a
  /// phase: its time goes to stats (calls, phases, the calls' wall time) and to the trace.
  void count_span(bool phase, const std::string& name, std::chrono::steady_clock::time_point begin,
                  std::chrono::steady_clock::time_point end, bool outermost) {
    const double seconds = std::chrono::duration<double>(end - begin).count();
    count_time(phase, name, seconds);
    if (!phase && outermost) {
      std::lock_guard<std::mutex> lock(mutex_);
      counters_.wall_seconds += seconds;
    }
    if (const auto t = tracer()) t->host_span(phase ? trace_recorder::track::phase : trace_recorder::track::call, name, begin, end);
  }
  /// Adds one call of `seconds` to the named phase (phase = true) or algorithm call.
  void count_time(bool phase, const std::string& name, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = phase ? counters_.phases : counters_.calls;
    for (auto& t : list)
      if (t.name == name) {
        t.seconds += seconds;
        ++t.calls;
        return;
      }
    list.push_back(stats::timing{name, seconds, 1});
  }
  stats snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    stats out = counters_;
    out.bytes_in_use = in_use_;
    return out;
  }

  // --- calibration (balance.hpp) -----------------------------------------------------
  /// The last calibration's figures, or null before any.
  const calibration* cached_calibration() const noexcept { return calibration_ ? calibration_.get() : nullptr; }
  void set_calibration(calibration c) { calibration_ = std::make_unique<calibration>(std::move(c)); }

  // --- traces ----------------------------------------------------------------------
  /// Starts recording a trace (if none is being recorded): context::start_trace.
  void start_trace() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!trace_) trace_ = std::make_shared<trace_recorder>();
  }
  bool tracing() const { return tracer() != nullptr; }
  /// The trace being recorded, or null; a call may end (and record) while another thread
  /// starts or stops the trace: it keeps the recorder it took.
  std::shared_ptr<trace_recorder> tracer() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return trace_;
  }
  /// Stops recording and drops what was recorded (SHARD_TRACE's file is then not written).
  void stop_trace() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    trace_.reset();
  }
  /// The trace so far as JSON (empty when none is recorded).
  std::string trace_json() const {
    const auto t = tracer();
    if (!t) return {};
    std::ostringstream os;
    t->write(os, topology_, local_shards_, rank());
    return os.str();
  }
  /// Writes the trace so far to `path`. Throws shard::error when none is recorded or the file
  /// cannot be written.
  void write_trace(const std::string& path) const {
    const auto t = tracer();
    if (!t) throw error("context::write_trace: no trace is recorded (SHARD_TRACE, or context::start_trace)");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw error("context::write_trace: cannot open \"" + path + "\" for writing");
    t->write(out, topology_, local_shards_, rank());
    out.flush();
    if (!out) throw error("context::write_trace: writing \"" + path + "\" failed");
  }
  /// SHARD_TRACE's file for this process: the path itself, or in an SPMD context the path
  /// with ".rank<r>" before its extension (one file per rank; their events carry the rank as
  /// process id, so the files merge into one view).
  std::string file_for_rank(const std::string& path) const {
    if (!ranks_) return path;
    const auto slash = path.find_last_of('/');
    const auto dot = path.find_last_of('.');
    const std::string tag = ".rank" + std::to_string(rank());
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path + tag;
    return path.substr(0, dot) + tag + path.substr(dot);
  }
  /// Every rank's counters summed (collective in an SPMD context; snapshot() otherwise). The
  /// host column sums every rank's host; calls and phases stay this rank's.
  stats global_snapshot() {
    stats mine = snapshot();
    if (!ranks_) return mine;
    const auto turn = exclusive();
    std::vector<std::uint64_t> flat(mine.bytes);
    flat.insert(flat.end(), mine.launches.begin(), mine.launches.end());
    flat.insert(flat.end(), mine.peak_bytes.begin(), mine.peak_bytes.end());
    flat.insert(flat.end(), mine.bytes_in_use.begin(), mine.bytes_in_use.end());
    for (double b : mine.busy_seconds) flat.push_back(static_cast<std::uint64_t>(b * 1e9));  // ns
    flat.push_back(mine.host_syncs);
    const std::size_t n = static_cast<std::size_t>(ranks_->ranks), len = flat.size();
    std::vector<std::uint64_t> all(n * len);
    communicate("context::global_stats", [&](auto deadline) {
      return ranks_->comm->all_gather_v(flat.data(), all.data(), std::vector<std::size_t>(n, len * sizeof(std::uint64_t)),
                                        deadline);
    });
    std::fill(flat.begin(), flat.end(), 0);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t i = 0; i < len; ++i) flat[i] += all[r * len + i];
    const std::size_t b = mine.bytes.size(), g = mine.launches.size();
    std::copy(flat.begin(), flat.begin() + b, mine.bytes.begin());
    std::copy(flat.begin() + b, flat.begin() + b + g, mine.launches.begin());
    std::copy(flat.begin() + b + g, flat.begin() + b + 2 * g, mine.peak_bytes.begin());
    std::copy(flat.begin() + b + 2 * g, flat.begin() + b + 3 * g, mine.bytes_in_use.begin());
    for (std::size_t s = 0; s < g; ++s) mine.busy_seconds[s] = static_cast<double>(flat[b + 3 * g + s]) / 1e9;
    mine.host_syncs = flat.back();
    return mine;
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fill(counters_.bytes.begin(), counters_.bytes.end(), 0);
    std::fill(counters_.launches.begin(), counters_.launches.end(), 0);
    counters_.host_syncs = 0;
    counters_.phases.clear();
    counters_.calls.clear();
    std::fill(counters_.busy_seconds.begin(), counters_.busy_seconds.end(), 0.0);
    counters_.wall_seconds = 0;
    counters_.peak_bytes = in_use_;  // the peak from now on starts at what is allocated now
  }

  // --- deadlines and usability --------------------------------------------------------
  /// How long one wait on the shards may take; zero: no deadline.
  std::chrono::nanoseconds wait_timeout() const noexcept { return wait_timeout_; }
  void set_wait_timeout(std::chrono::nanoseconds timeout) {
    if (timeout.count() < 0) throw invalid_argument("context::set_wait_timeout: the timeout must not be negative");
    wait_timeout_ = timeout;
  }
  /// The deadline of a wait that starts now.
  std::chrono::steady_clock::time_point deadline() const {
    const auto now = std::chrono::steady_clock::now();
    if (wait_timeout_.count() == 0 || wait_timeout_ > std::chrono::steady_clock::time_point::max() - now)
      return std::chrono::steady_clock::time_point::max();
    return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait_timeout_);
  }
  /// False once a wait passed its deadline: the shards may still be running work that never
  /// ends, so nothing else may be queued on them.
  bool usable() const noexcept { return usable_; }
  /// Throws shard::error when the context is unusable (every public path checks first).
  void require_usable() const {
    if (!usable_) throw error("the context is unusable: " + unusable_reason_ + "; create a new context");
  }
  /// Gives up on the shards after a wait on `shard` passed its deadline: aborts the collective
  /// engine's work, abandons every device still busy, marks the context unusable, and returns
  /// the shard::timeout to throw.
  std::exception_ptr give_up(std::size_t shard) noexcept {
    const double seconds = std::chrono::duration<double>(wait_timeout_).count();
    const int ordinal = dev(shard).ordinal();
    std::string message = "shard " + std::to_string(shard) + " (device " + std::to_string(ordinal) +
                          ") did not finish its queued work within the context's wait timeout of " +
                          std::to_string(seconds) + " s";
    usable_ = false;
    unusable_reason_ = message;
    abort_collective_engine();
    abandon_busy();
    if (ranks_) ranks_->comm->abort();
    try {
      return std::make_exception_ptr(timeout(message + "; the context is now unusable", static_cast<int>(shard),
                                             ordinal));
    } catch (...) {
      return std::current_exception();
    }
  }

  /// Gives up on the other ranks after a communication (`what`) passed the deadline: the
  /// context is unusable from then on. Returns the shard::timeout to throw.
  std::exception_ptr give_up_ranks(const char* what) noexcept {
    try {
      const double seconds = std::chrono::duration<double>(wait_timeout_).count();
      std::string message = "rank " + std::to_string(rank()) + ": the other ranks did not answer " + what +
                            " within the context's wait timeout of " + std::to_string(seconds) + " s";
      usable_ = false;
      unusable_reason_ = message;
      abort_collective_engine();
      abandon_busy();
      if (ranks_) ranks_->comm->abort();
      return std::make_exception_ptr(timeout(message + "; the context is now unusable", -1, -1));
    } catch (...) {
      usable_ = false;
      return std::current_exception();
    }
  }

  /// Aborts the collective engine's work (NCCL: ncclCommAbort on every communicator) on a
  /// thread of its own, waiting for it at most min(timeout, 5 s): the abort itself may wait
  /// for a stream that never finishes (NCCL synchronises its internal stream, which follows
  /// the shards' streams). The thread keeps the engine alive until the abort returns; the
  /// context lets go of it either way.
  void abort_collective_engine() noexcept {
    if (!engine_) return;
    try {
      auto engine = engine_;
      auto done = std::make_shared<std::promise<void>>();
      auto finished = done->get_future();
      std::thread([engine, done] {
        engine->abort();  // noexcept; best effort: the devices are abandoned whatever it did
        done->set_value();
      }).detach();
      const auto limit = wait_timeout_.count() == 0 ? std::chrono::nanoseconds(std::chrono::seconds(5))
                                                    : std::min<std::chrono::nanoseconds>(wait_timeout_, std::chrono::seconds(5));
      deferred_wakeups::flush();  // before any wait (core/device.hpp)
      if (finished.wait_for(limit) != std::future_status::ready && usable_) {
        // Still aborting: a new engine must not start beside it (NCCL forbids making
        // communicators on GPUs whose communicators another thread is aborting).
        usable_ = false;
        unusable_reason_ = "the collective engine's abort did not finish within " +
                           std::to_string(std::chrono::duration<double>(limit).count()) + " s";
      }
    } catch (...) {
      // No thread could be started: the engine is leaked rather than destroyed (destroying
      // communicators that reported an error may wait forever), and the context is unusable.
      (void)new (std::nothrow) std::shared_ptr<collective_engine>(engine_);
      usable_ = false;
      try {
        unusable_reason_ = "the collective engine could not be aborted";
      } catch (...) {  // out of memory: the reason stays as it was
      }
    }
    reset_collective_engine();
  }

  // --- waiting ---------------------------------------------------------------------
  /// Waits for every shard (one host synchronisation) and rethrows the first failure, in
  /// shard order, after all shards are idle: no shard is left running when it throws. Past
  /// the deadline it gives up (give_up) and throws shard::timeout.
  void synchronize_all() {
    std::exception_ptr first = wait_all();
    if (first) std::rethrow_exception(first);
  }
  /// As synchronize_all, for error paths: swallows the failures (the caller already has one).
  void synchronize_all_noexcept() noexcept {
    try {
      (void)wait_all();
    } catch (...) {
      // count_host_sync can only fail on a broken mutex; nothing left to do.
    }
  }

 private:
  /// After give_up: waits a moment (100 ms at most) for the abandoned devices' queues to
  /// empty. True when every queue did: nothing can touch the context's memory any more.
  bool drain_abandoned() noexcept {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    bool all = true;
    for (auto s : local_shards_) {
      try {
        all = dev(s).wait_until(deadline) && all;
      } catch (...) {
        all = false;
      }
    }
    return all;
  }

  std::exception_ptr wait_all() {
    count_host_sync();
    if (!usable_) return std::make_exception_ptr(error("the context is unusable: " + unusable_reason_));
    const auto deadline = this->deadline();
    const auto wait_begin = std::chrono::steady_clock::now();
    std::exception_ptr first;
    for (auto s : local_shards_) {
      auto& d = dev(s);
      bool done = false;
      if (engine_) {
        // With a collective library in use, poll it while waiting: a failed collective would
        // otherwise leave the stream waiting forever. After a poll that throws, the library's
        // work is aborted with the same bound as a deadline's abort (the abort itself may
        // wait on a stuck stream), and the engine dropped, so the queue drains.
        while (!(done = d.wait_until(std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(1))))) {
          if (std::chrono::steady_clock::now() >= deadline) break;
          try {
            if (engine_) engine_->poll();
          } catch (...) {
            if (!first) first = std::current_exception();
            abort_collective_engine();
            if (!usable_) {
              // The abort did not finish: the shards may never drain. Give up on them now,
              // whatever the deadline (there may be none).
              abandon_busy();
              return first;
            }
          }
        }
      } else {
        done = d.wait_until(deadline);
      }
      if (!done) return give_up(s);
      try {
        d.synchronize();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (const auto t = tracer()) t->host_span(trace_recorder::track::wait, "wait", wait_begin, std::chrono::steady_clock::now());
    take_activity();
    return first;
  }

  /// The work each local shard ran since the last wait: its busy time, and the trace's spans.
  void take_activity() noexcept {
    try {
      std::vector<activity> spans;
      const auto t = tracer();
      for (auto s : local_shards_) {
        spans.clear();
        try {
          dev(s).take_activity(spans);
        } catch (...) {  // a device that cannot tell (a failed GPU): its busy time misses this step
          continue;
        }
        if (spans.empty()) continue;
        if (t) t->shard_spans(s, spans);
        const std::uint64_t ns = covered_ns(spans);
        std::lock_guard<std::mutex> lock(mutex_);
        counters_.busy_seconds[s] += static_cast<double>(ns) / 1e9;
      }
    } catch (...) {  // out of memory: the busy time misses this step
    }
  }

  void init_counters() {
    const std::size_t g = view_.size();
    counters_.shards = g;
    counters_.bytes.assign((g + 1) * (g + 1), 0);
    counters_.launches.assign(g, 0);
    counters_.peak_bytes.assign(g, 0);
    counters_.bytes_in_use.assign(g, 0);
    counters_.busy_seconds.assign(g, 0.0);
    in_use_.assign(g, 0);
    staging_.resize(g);
  }
  void init_trace() {
    trace_path_ = trace_path_from_environment();
    if (!trace_path_.empty()) trace_ = std::make_shared<trace_recorder>();
  }
  void abandon_busy() noexcept {
    for (auto s : local_shards_)
      if (!dev(s).idle()) dev(s).abandon();
  }

  backend kind_;
  std::vector<std::unique_ptr<device>> devices_;  // a single-process context's own devices
  std::shared_ptr<context_impl> local_;           // an SPMD context's local context (its devices)
  std::vector<device*> view_;                     // per shard; null where the shard is not local
  std::vector<std::size_t> local_shards_;
  std::unique_ptr<rank_state> ranks_;
  std::string signature_;
  shard::topology topology_;
  std::vector<std::unique_ptr<staging_pool>> staging_;
  void* pinned_slots_[2] = {nullptr, nullptr};
  std::size_t pinned_slots_bytes_[2] = {0, 0};
  std::shared_ptr<collective_engine> engine_;
  std::chrono::nanoseconds wait_timeout_{0};
  bool usable_ = true;
  std::string unusable_reason_;
  std::recursive_mutex call_mutex_;
  mutable std::mutex mutex_;
  stats counters_;
  std::vector<std::uint64_t> in_use_;
  std::unique_ptr<calibration> calibration_;  // balance.hpp's cache
  rebuild_fn rebuild_;                           // a context over some of the shards (failover)
  std::weak_ptr<context_impl> origin_;           // the context this one's survivors came from
  std::vector<std::size_t> kept_;                // ... and their shards there
  std::unique_ptr<device> host_helper_;          // a shard-less local context's host memory
  std::shared_ptr<trace_recorder> trace_;  // null unless a trace is recorded (read through tracer())
  std::string trace_path_;                 // SHARD_TRACE: written when the context is destroyed
};

}  // namespace detail
SHARD_NAMESPACE_END
