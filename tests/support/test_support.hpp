#pragma once
// Shared by every test source. The same source builds with g++ (host backend) and, through
// a .cu wrapper, with nvcc (host backend and, when a GPU is present, the CUDA backend).
// The containers and the element-wise and reduction algorithms; the tests of the other
// families include their headers themselves, so that an nvcc translation unit parses only the
// CUB headers it uses.
#include <shard/context.hpp>
#include <shard/copy.hpp>
#include <shard/core/collective_engine.hpp>
#include <shard/count.hpp>
#include <shard/distribution.hpp>
#include <shard/error.hpp>
#include <shard/extrema.hpp>
#include <shard/fill.hpp>
#include <shard/for_each.hpp>
#include <shard/functional.hpp>
#include <shard/reduce.hpp>
#include <shard/stats.hpp>
#include <shard/testing.hpp>
#include <shard/topology.hpp>
#include <shard/transform.hpp>
#include <shard/transform_reduce.hpp>
#include <shard/vector.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace test {

/// A list of sizes from an environment variable ("1,2,4"), or `fallback`.
inline std::vector<std::size_t> list_from_environment(const char* variable, std::vector<std::size_t> fallback) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return fallback;
  std::vector<std::size_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoul(item));
  return out;
}

/// The shard counts every algorithm is checked on: {1, 2, 3, 4, 7, 8}, or the list in
/// SHARD_TEST_SHARD_COUNTS (the GPU check runs 1, 2, 4 and 8 separately).
inline const std::vector<std::size_t> shard_counts = list_from_environment("SHARD_TEST_SHARD_COUNTS", {1, 2, 3, 4, 7, 8});

/// Sizes checked for G shards: empty, one, fewer than G, G, a prime, large (1 << 20, or
/// SHARD_TEST_LARGE, which the sanitizer runs lower).
inline std::vector<std::size_t> sizes_for(std::size_t g) {
  static const std::size_t large = list_from_environment("SHARD_TEST_LARGE", {std::size_t{1} << 20}).at(0);
  std::vector<std::size_t> out{0, 1};
  if (g > 2) out.push_back(g - 1);
  if (g > 1) out.push_back(g);
  out.push_back(10007);
  out.push_back(large);
  return out;
}

/// Which backends this binary exercises: SHARD_TEST_BACKEND = host | cuda | all (default).
inline bool backend_enabled(const char* name) {
  const char* e = std::getenv("SHARD_TEST_BACKEND");
  return e == nullptr || std::string(e) == "all" || std::string(e) == name;
}

inline int gpu_count() { return shard::context::cuda_device_count(); }

/// Whether the host contexts of the tests take the GPU's freedoms
/// (host_options::cuda_semantics): SHARD_TEST_CUDA_SEMANTICS=1. ctest runs every algorithm
/// suite once without and once with it (the *_cuda_semantics tests).
inline bool cuda_semantics() {
  const char* e = std::getenv("SHARD_TEST_CUDA_SEMANTICS");
  return e != nullptr && std::string(e) == "1";
}

/// Whether `ctx` computes in the host backend's documented sequential orders (a host context
/// without cuda_semantics), so that tests may compare floating-point results bit for bit
/// against that order.
inline bool sequential_order(const shard::context& ctx) {
  return ctx.kind() == shard::backend::host && !cuda_semantics();
}

/// The threads that run the test contexts' emulated devices (host_options::threads):
/// SHARD_TEST_HOST_THREADS = n, a pool of n; unset, the default (a thread per device).
inline std::size_t host_threads() {
  const char* e = std::getenv("SHARD_TEST_HOST_THREADS");
  return e != nullptr && *e != '\0' ? static_cast<std::size_t>(std::stoull(e)) : 0;
}

/// The host backend as the algorithm tests use it: emulating a GPU's rule that host copies
/// need pinned memory, so that a path that would hand pageable memory to a GPU fails here,
/// with SHARD_TEST_CUDA_SEMANTICS=1 the GPU's freedoms of order (cuda_semantics()), and the
/// executor of SHARD_TEST_HOST_THREADS (host_threads()).
inline shard::host_options gpu_like() {
  shard::host_options o;
  o.require_pinned_host_memory = true;
  o.cuda_semantics = cuda_semantics();
  o.threads = host_threads();
  return o;
}

/// Contexts with `g` shards on every enabled backend: the host backend (gpu_like), and on a
/// CUDA build with a GPU, g shards mapped round-robin onto the visible GPUs (several per GPU
/// if need be).
inline std::vector<shard::context> contexts(std::size_t g, shard::host_options options = gpu_like()) {
  std::vector<shard::context> out;
  if (backend_enabled("host")) out.push_back(shard::context::host(g, options));
  if (backend_enabled("cuda") && gpu_count() > 0) out.push_back(shard::context::cuda_round_robin(g));
  return out;
}

inline std::string name(shard::backend b) { return b == shard::backend::host ? "host" : "cuda"; }

/// The three distributions, resolved for n elements over g shards.
inline std::vector<shard::distribution> distributions(std::size_t n, std::size_t g) {
  std::vector<double> weights;
  for (std::size_t s = 0; s < g; ++s) weights.push_back(static_cast<double>((s * 7 + 3) % 5));  // some zero
  if (g == 1) weights = {1};
  std::vector<std::size_t> sizes(g, 0);
  // Explicit: everything on the last shard but one element per odd shard.
  std::size_t left = n;
  for (std::size_t s = 1; s < g && left > 0; s += 2) sizes[s] = 1, --left;
  sizes[g - 1] += left;
  return {shard::distribution::even(), shard::distribution::weighted(weights), shard::distribution::explicit_sizes(sizes)};
}

/// A fixed seed per case, printed on failure by the CAPTURE in each test.
inline std::uint64_t seed_for(std::size_t g, std::size_t n, std::size_t d) { return 1000003 * g + 7919 * n + d; }

/// A small user-defined element type.
struct point {
  std::int32_t x;
  float y;
  friend SHARD_HOST_DEVICE bool operator==(const point& a, const point& b) { return a.x == b.x && a.y == b.y; }
  friend SHARD_HOST_DEVICE bool operator<(const point& a, const point& b) { return a.x < b.x; }
};
inline std::ostream& operator<<(std::ostream& os, const point& p) { return os << '(' << p.x << ", " << p.y << ')'; }

/// Random data of type T; integers in a small range so that duplicates and ties occur.
template <class T>
std::vector<T> random_data(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> out(n);
  for (auto&& x : out) {  // auto&&: std::vector<bool>'s proxy references
    if constexpr (std::is_same_v<T, bool>) {
      x = rng() % 2 == 0;
    } else if constexpr (std::is_same_v<T, point>) {
      x = point{static_cast<std::int32_t>(rng() % 1000) - 500, static_cast<float>(rng() % 1000) / 8.0f};
    } else if constexpr (std::is_floating_point_v<T>) {
      x = static_cast<T>(std::uniform_real_distribution<double>(-100.0, 100.0)(rng));
    } else if constexpr (std::is_signed_v<T>) {
      x = static_cast<T>(static_cast<std::int64_t>(rng() % 2001) - 1000);
    } else {
      x = static_cast<T>(rng() % 100000);
    }
  }
  return out;
}

}  // namespace test

namespace test {
/// Number of indices whose shard differs between two layouts (independent of the library's
/// exchange planner: walks every index).
inline std::size_t elements_changing_shard(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  auto owners = [](const std::vector<std::size_t>& sizes) {
    std::vector<std::size_t> owner;
    for (std::size_t s = 0; s < sizes.size(); ++s) owner.insert(owner.end(), sizes[s], s);
    return owner;
  };
  const auto oa = owners(a), ob = owners(b);
  std::size_t moved = 0;
  for (std::size_t i = 0; i < oa.size() && i < ob.size(); ++i) moved += oa[i] != ob[i] ? 1 : 0;
  return moved;
}
}  // namespace test

namespace test {
/// A collective engine whose poll and abort are the test's functions (the waits' handling of
/// a collective library, without one).
class scripted_engine final : public shard::detail::collective_engine {
 public:
  scripted_engine(std::function<void()> poll, std::function<void()> abort)
      : poll_(std::move(poll)), abort_(std::move(abort)) {}
  const char* name() const noexcept override { return "test"; }
  void poll() override { poll_(); }
  void abort() noexcept override {
    aborted_ = true;
    try {
      abort_();
    } catch (...) {
    }
  }
  bool aborted() const noexcept override { return aborted_; }

 private:
  std::function<void()> poll_;
  std::function<void()> abort_;
  std::atomic<bool> aborted_{false};
};
}  // namespace test

namespace test {
/// Runs body(ctx, n, distribution, seed) for every shard count, backend, size and
/// distribution, with the case captured for failure messages.
template <class F>
void for_every_case(F&& body) {
  for (std::size_t g : shard_counts)
    for (auto& ctx : contexts(g))
      for (std::size_t n : sizes_for(g)) {
        const auto dists = distributions(n, g);
        for (std::size_t di = 0; di < dists.size(); ++di) {
          const auto seed = seed_for(g, n, di);
          const std::string backend = name(ctx.kind());
          CAPTURE(backend);
          CAPTURE(g);
          CAPTURE(n);
          CAPTURE(di);
          CAPTURE(seed);
          body(ctx, n, dists[di], seed);
        }
      }
}
}  // namespace test
