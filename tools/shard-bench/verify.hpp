#pragma once
// shard-bench verification and timing helpers shared by the transfer tests:
// - patterns: every transferred buffer is filled with bytes that depend on the source, the
//   destination and the size (pattern_seed), the destination with something else, and the
//   destination is checked on its device after the timed loop (count_wrong: a kernel
//   counts the bytes that differ; only the count comes back to the host);
// - the corruption hook of the tests: SHARD_BENCH_CORRUPT=<test key> flips one byte of the
//   first buffer that test verifies, which must then report one wrong byte and fail;
// - the gate: a kernel that spins on a flag in pinned host memory, so that a timed loop is
//   queued completely before any of it runs (p2pBandwidthLatencyTest's delay kernel): the
//   figures then exclude the host's enqueue time;
// - the SM copy: a copy kernel over 8-byte words (an SM copy across peer pointers, or
//   between device and pinned host memory), next to the copy engines' copies.
#include "common.hpp"

#include <shard/core/buffer.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/run.hpp>
#include <shard/primitive/for_each.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>

namespace bench {

SHARD_HOST_DEVICE inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Byte i of the pattern `seed`.
SHARD_HOST_DEVICE inline unsigned char pattern_byte(std::uint64_t seed, std::size_t i) {
  return static_cast<unsigned char>(mix64(seed + i / 8) >> (8 * (i % 8)));
}

/// The seed of a transfer from `src` to `dst` of `bytes` bytes in test `salt`.
inline std::uint64_t pattern_seed(std::size_t src, std::size_t dst, std::size_t bytes, std::uint64_t salt = 0) {
  return mix64(mix64(mix64(salt) ^ (src + 1)) ^ ((dst + 1) << 20) ^ (static_cast<std::uint64_t>(bytes) << 8));
}

/// A seed whose pattern differs from `seed`'s in every 8-byte word (what a destination holds
/// before a transfer).
inline std::uint64_t other_seed(std::uint64_t seed) { return mix64(seed ^ 0x5555555555555555ull); }

struct pattern_fn {
  unsigned char* p;
  std::uint64_t seed;
  SHARD_HOST_DEVICE void operator()(std::size_t i) const { p[i] = pattern_byte(seed, i); }
};

SHARD_HOST_DEVICE inline void count_one(unsigned long long* counter) {
#ifdef __CUDA_ARCH__
  atomicAdd(counter, 1ull);
#else
  std::atomic_ref<unsigned long long>(*counter).fetch_add(1, std::memory_order_relaxed);
#endif
}

struct mismatch_fn {
  const unsigned char* p;
  std::uint64_t seed;
  unsigned long long* wrong;
  SHARD_HOST_DEVICE void operator()(std::size_t i) const {
    if (p[i] != pattern_byte(seed, i)) count_one(wrong);
  }
};

struct flip_fn {
  unsigned char* p;
  SHARD_HOST_DEVICE void operator()(std::size_t) const { p[0] = static_cast<unsigned char>(p[0] ^ 0x5a); }
};

/// dst[i] = src[i] over 8-byte words (an SM copy).
struct copy_words_fn {
  const std::uint64_t* src;
  std::uint64_t* dst;
  SHARD_HOST_DEVICE void operator()(std::size_t i) const { dst[i] = src[i]; }
};

/// Spins until *flag != 0, or about `timeout_s` seconds have passed (a guard against a host
/// that never releases it, or a queue too short to hold the whole loop: the measurement is
/// then dropped, never a hang); a timeout is counted in *timeouts.
struct spin_fn {
  volatile int* flag;
  int* timeouts;
  double timeout_s;
  SHARD_HOST_DEVICE void operator()(std::size_t) const {
#ifdef __CUDA_ARCH__
    const long long start = clock64();
    const long long limit = static_cast<long long>(timeout_s * 2e9);  // clocks at ~2 GHz
    while (*flag == 0) {
      if (clock64() - start > limit) {
        atomicAdd(timeouts, 1);
        return;
      }
    }
#else
    // The host backend: the flag is written by another host thread; read it atomically.
    std::atomic_ref<int> f(*const_cast<int*>(flag));
    const auto start = std::chrono::steady_clock::now();
    while (f.load(std::memory_order_acquire) == 0) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s) {
        std::atomic_ref<int>(*timeouts).fetch_add(1);
        return;
      }
      std::this_thread::yield();
    }
#endif
  }
};

/// Byte patterns on shards and in host memory, and counting the bytes that differ.
class verifier {
 public:
  verifier(shard::detail::context_impl& impl, bool enabled) : impl_(impl), enabled_(enabled) {
    const char* corrupt = std::getenv("SHARD_BENCH_CORRUPT");
    if (corrupt != nullptr) corrupt_ = corrupt;
    // Its own pinned memory: the context's pinned slots may be reallocated by the algorithms.
    // (In an SPMD context, this rank's shards only.)
    counters_ = static_cast<unsigned long long*>(impl.host_device().allocate_host(impl.size() * sizeof(unsigned long long)));
    device_counters_.resize(impl.size());
    for (auto s : impl.local_shards()) device_counters_[s] = shard::detail::device_buffer<unsigned long long>(impl, s, 1);
  }
  ~verifier() { impl_.host_device().deallocate_host(counters_, impl_.size() * sizeof(unsigned long long)); }
  verifier(const verifier&) = delete;
  verifier& operator=(const verifier&) = delete;
  bool enabled() const { return enabled_; }

  /// Queues p[0, bytes) = pattern(seed) on shard s.
  void fill(std::size_t s, void* p, std::size_t bytes, std::uint64_t seed) {
    if (bytes == 0) return;
    shard::detail::launch(impl_, s, [&](auto& dev) {
      shard::detail::primitive::for_each_index(dev, bytes, pattern_fn{static_cast<unsigned char*>(p), seed});
    });
  }
  /// Fills host memory (pinned or not) with pattern(seed) now.
  static void fill_host(void* p, std::size_t bytes, std::uint64_t seed) {
    auto* b = static_cast<unsigned char*>(p);
    for (std::size_t i = 0; i < bytes; ++i) b[i] = pattern_byte(seed, i);
  }

  /// Bytes of p[0, bytes) on shard s that differ from pattern(seed); waits. -1 when
  /// verification is off. The corruption hook flips a byte first (once per test key).
  long long count_wrong(const std::string& test, std::size_t s, const void* p, std::size_t bytes, std::uint64_t seed) {
    return count_with(test, s, p, bytes, mismatch_fn{static_cast<const unsigned char*>(p), seed, nullptr});
  }
  /// Runs `check` (a functor of the index with a member `unsigned long long* wrong` it
  /// increments for each wrong element) over [0, n) on shard s, and returns the count; the
  /// corruption hook flips the first byte at `data` first.
  template <class Check>
  long long count_with(const std::string& test, std::size_t s, const void* data, std::size_t n, Check check) {
    if (!enabled_) return -1;
    // In an SPMD context every rank waits with the others (a collective step); another
    // rank's shard counts 0 here, its own rank counts it.
    const bool here = impl_.local(s);
    unsigned long long* counter = here ? device_counters_[s].data() : nullptr;
    check.wrong = counter;
    shard::detail::run_and_wait(impl_, [&] {
      if (n > 0 && corrupt_now(test))
        shard::detail::launch(impl_, s, [&](auto& dev) {
          shard::detail::primitive::for_each_index(dev, 1, flip_fn{static_cast<unsigned char*>(const_cast<void*>(data))});
        });
      shard::detail::launch(impl_, s, [&](auto& dev) {
        shard::detail::primitive::for_each_index(dev, 1, shard::detail::fill_fn<unsigned long long>{counter, 0ull});
        shard::detail::primitive::for_each_index(dev, n, check);
      });
      if (here) impl_.dev(s).copy_to_host(counters_ + s, counter, sizeof(unsigned long long));
    });
    return here ? static_cast<long long>(counters_[s]) : 0;
  }
  /// As count_wrong, for host memory the host reads itself (after the copies into it were waited for).
  long long count_wrong_host(const std::string& test, void* p, std::size_t bytes, std::uint64_t seed) {
    if (!enabled_) return -1;
    auto* b = static_cast<unsigned char*>(p);
    if (bytes > 0 && corrupt_now(test)) b[0] = static_cast<unsigned char>(b[0] ^ 0x5a);
    long long wrong = 0;
    for (std::size_t i = 0; i < bytes; ++i) wrong += b[i] != pattern_byte(seed, i);
    return wrong;
  }
  /// Whether the corruption hook asks to corrupt test `key` now (true once per key).
  bool corrupt_now(const std::string& key) {
    if (corrupt_ != key || corrupted_[key]) return false;
    corrupted_[key] = true;
    return true;
  }

 private:
  shard::detail::context_impl& impl_;
  bool enabled_;
  std::string corrupt_;
  std::map<std::string, bool> corrupted_;
  unsigned long long* counters_;
  std::vector<shard::detail::device_buffer<unsigned long long>> device_counters_;
};

/// The blocking kernel of a timed loop: block(s) queues the spin on shard s, release() lets
/// every blocked shard go. One flag in pinned host memory (portable: every GPU reads it), and
/// a count of the spins that timed out (a GPU spins at most 1 s, under the usual display
/// watchdogs; an emulated device 10 s).
class gate {
 public:
  explicit gate(shard::detail::context_impl& impl) : impl_(impl) {
    words_ = static_cast<int*>(impl.dev(0).allocate_host(2 * sizeof(int)));
    flag_ = words_;
    std::atomic_ref<int>(words_[0]).store(1);  // open: the warm-up spins return at once
    std::atomic_ref<int>(words_[1]).store(0);
    // Load the spin kernel on every shard before any timed loop (lazy module loading).
    shard::detail::run_and_wait(impl, [&] {
      for (std::size_t s = 0; s < impl.size(); ++s) launch_spin(s);
    });
  }
  ~gate() { impl_.dev(0).deallocate_host(words_, 2 * sizeof(int)); }
  gate(const gate&) = delete;
  gate& operator=(const gate&) = delete;

  void block(std::size_t s) {
    std::atomic_ref<int>(words_[0]).store(0, std::memory_order_seq_cst);
    launch_spin(s);
  }
  /// The store is a plain aligned 4-byte store to pinned memory, which a GPU's spinning
  /// volatile load observes (p2pBandwidthLatencyTest's delay kernel works the same way).
  void release() { std::atomic_ref<int>(words_[0]).store(1, std::memory_order_seq_cst); }
  /// Spins that timed out since the last call (read after the queues were waited for).
  int take_timeouts() { return std::atomic_ref<int>(words_[1]).exchange(0); }

 private:
  void launch_spin(std::size_t s) {
    const double timeout = impl_.dev(s).kind() == shard::backend::host ? 10.0 : 1.0;
    shard::detail::launch(impl_, s, [&](auto& dev) {
      shard::detail::primitive::for_each_index(dev, 1, spin_fn{flag_, words_ + 1, timeout});
    });
  }
  shard::detail::context_impl& impl_;
  int* words_;
  volatile int* flag_;
};

/// Releases the gate however the scope is left (a throwing enqueue must not leave a spin).
struct gate_release {
  gate& g;
  ~gate_release() { g.release(); }
};

}  // namespace bench
