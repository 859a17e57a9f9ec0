// The application's memory: vectors that wrap buffers the application allocated (never freed
// nor reallocated by shard; every algorithm takes them), and contexts that allocate through
// the application's allocator (it sees every allocation and its matching free).
#include "../support/test_support.hpp"

#include <shard/allocator.hpp>
#include <shard/on_each_shard.hpp>
#include <shard/shard.hpp>
#include <shard/thread_ranks.hpp>

#if SHARD_HAS_CUDA
#  include <cuda/stream_ref>
#  include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace {

/// One buffer per shard of the application's own memory, `sizes[s]` elements each: host memory
/// for an emulated device, cudaMalloc'd memory of the shard's GPU for a CUDA context. Freed by
/// the destructor, never by shard.
class app_buffers {
 public:
  app_buffers(const shard::context& ctx, const std::vector<std::size_t>& sizes) : ctx_(ctx) {
    for (std::size_t s = 0; s < sizes.size(); ++s) {
      int* p = nullptr;
      if (sizes[s] != 0) {
        if (ctx.kind() == shard::backend::host) {
          p = static_cast<int*>(::operator new(sizes[s] * sizeof(int), std::align_val_t(256)));
        } else {
#if SHARD_HAS_CUDA
          REQUIRE(cudaSetDevice(ctx.device(s)) == cudaSuccess);
          REQUIRE(cudaMalloc(&p, sizes[s] * sizeof(int)) == cudaSuccess);
#endif
        }
      }
      parts_.emplace_back(p, sizes[s]);
    }
  }
  ~app_buffers() {
    for (auto& part : parts_) {
      if (part.data() == nullptr) continue;
      if (ctx_.kind() == shard::backend::host) {
        ::operator delete(part.data(), std::align_val_t(256));
      } else {
#if SHARD_HAS_CUDA
        (void)cudaFree(part.data());
#endif
      }
    }
  }
  app_buffers(const app_buffers&) = delete;
  app_buffers& operator=(const app_buffers&) = delete;
  const std::vector<std::span<int>>& parts() const { return parts_; }

 private:
  shard::context ctx_;
  std::vector<std::span<int>> parts_;
};

/// The application's buffers, read directly (no shard call): the elements in shard order.
std::vector<int> read_back(const shard::context& ctx, const app_buffers& b) {
  std::vector<int> out;
  for (const auto& part : b.parts()) {
    const std::size_t at = out.size();
    out.resize(at + part.size());
    if (part.empty()) continue;
    if (ctx.kind() == shard::backend::host) {
      std::copy(part.begin(), part.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
    } else {
#if SHARD_HAS_CUDA
      REQUIRE(cudaMemcpy(out.data() + at, part.data(), part.size_bytes(), cudaMemcpyDeviceToHost) == cudaSuccess);
#endif
    }
  }
  return out;
}

/// An allocator of the application that records every allocation and checks every free
/// against it (the same pointer, size and shard, once).
struct counting_allocator {
  struct record {
    std::size_t bytes, shard;
  };
  std::mutex m;
  std::map<void*, record> live;
  std::size_t allocations = 0, frees = 0, mismatched = 0;
  std::vector<std::size_t> per_shard = std::vector<std::size_t>(16, 0);

  shard::allocator get() {
    return shard::allocator{
        [this](std::size_t bytes, const shard::allocation_place& where) {
          void* p = ::operator new(bytes, std::align_val_t(256));
          std::lock_guard<std::mutex> lock(m);
          live[p] = {bytes, where.shard};
          ++allocations;
          ++per_shard[where.shard];
          return p;
        },
        [this](void* p, std::size_t bytes, const shard::allocation_place& where) {
          {
            std::lock_guard<std::mutex> lock(m);
            ++frees;
            const auto it = live.find(p);
            if (it == live.end() || it->second.bytes != bytes || it->second.shard != where.shard) {
              ++mismatched;
              return;
            }
            live.erase(it);
          }
          ::operator delete(p, std::align_val_t(256));
        }};
  }
};

}  // namespace

TEST_CASE("vector::wrap: the application's buffers as a vector, written in place by every algorithm, never freed" *
          doctest::test_suite("interop")) {
  for (std::size_t g : test::shard_counts) {
    for (auto& ctx : test::contexts(g)) {
      CAPTURE(g);
      CAPTURE(test::name(ctx.kind()));
      // Any sizes, empty segments included.
      std::vector<std::size_t> sizes(g);
      for (std::size_t s = 0; s < g; ++s) sizes[s] = (s * 37 + 11) % 5 == 0 ? 0 : (s * 37 + 11) % 97;
      const std::size_t n = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
      app_buffers mem(ctx, sizes);
      std::vector<int> expected(n);
      {
        auto v = shard::vector<int>::wrap(ctx, mem.parts());
        CHECK(v.wrapped());
        CHECK(v.size() == n);
        CHECK(v.segment_sizes() == sizes);
        for (std::size_t s = 0; s < g; ++s) CHECK(v.segment(s).data == mem.parts()[s].data());
        CHECK(ctx.stats().peak_bytes == std::vector<std::uint64_t>(g, 0));  // nothing of shard's allocated

        shard::iota(v, 0);
        shard::transform(v, v, [] SHARD_HOST_DEVICE(int x) { return (x * 7919) % 1009 - 500; });
        std::iota(expected.begin(), expected.end(), 0);
        for (auto& x : expected) x = (x * 7919) % 1009 - 500;
        CHECK(shard::reduce(v) == std::accumulate(expected.begin(), expected.end(), 0));
        shard::sort(v);
        std::sort(expected.begin(), expected.end());
        CHECK(read_back(ctx, mem) == expected);  // the application's memory holds the result
        shard::inclusive_scan(v, v);
        std::inclusive_scan(expected.begin(), expected.end(), expected.begin());
        CHECK(read_back(ctx, mem) == expected);
        CHECK(v.to_host() == expected);

        // Operations that keep the size write into the wrapped memory; the layout stays.
        const shard::vector<int> even(ctx, expected);
        v = even;
        CHECK(v.segment_sizes() == sizes);
        CHECK(read_back(ctx, mem) == expected);
        v.redistribute(shard::distribution::explicit_sizes(sizes));  // its own layout: nothing to do
        v.resize(n);
        CHECK(shard::remove_if(v, [] SHARD_HOST_DEVICE(int) { return false; }) == n);
        CHECK(read_back(ctx, mem) == expected);

        // A copy is shard's own; a move carries the wrapping along.
        shard::vector<int> copy(v);
        CHECK_FALSE(copy.wrapped());
        auto moved = std::move(v);
        CHECK(moved.wrapped());
        CHECK(moved.size() == n);
        CHECK(v.size() == 0);
      }
      // The vectors are gone; the buffers are the application's still, and hold the result.
      CHECK(read_back(ctx, mem) == expected);
    }
  }
}

TEST_CASE("vector::wrap: sort_by_key, reduce_by_key, merge and the stencil on wrapped vectors" *
          doctest::test_suite("interop")) {
  for (std::size_t g : {std::size_t{1}, std::size_t{3}, std::size_t{4}}) {
    for (auto& ctx : test::contexts(g)) {
      CAPTURE(g);
      CAPTURE(test::name(ctx.kind()));
      std::vector<std::size_t> sizes(g);
      for (std::size_t s = 0; s < g; ++s) sizes[s] = s == 1 ? 0 : 40 + 13 * s;
      const std::size_t n = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
      app_buffers key_mem(ctx, sizes), value_mem(ctx, sizes), out_mem(ctx, sizes);
      auto keys = shard::vector<int>::wrap(ctx, key_mem.parts());
      auto values = shard::vector<int>::wrap(ctx, value_mem.parts());
      auto out = shard::vector<int>::wrap(ctx, out_mem.parts());
      std::vector<int> k(n), v(n);
      for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<int>((i * 37) % 11), v[i] = static_cast<int>(i);
      shard::copy(std::span<const int>(k), keys);
      shard::copy(std::span<const int>(v), values);

      shard::sort_by_key(keys, values);  // stable: equal keys keep their order
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return k[a] < k[b]; });
      std::vector<int> sorted_k(n), sorted_v(n);
      for (std::size_t i = 0; i < n; ++i) sorted_k[i] = k[order[i]], sorted_v[i] = v[order[i]];
      CHECK(read_back(ctx, key_mem) == sorted_k);
      CHECK(read_back(ctx, value_mem) == sorted_v);

      std::map<int, int> sums;
      for (std::size_t i = 0; i < n; ++i) sums[k[i]] += v[i];
      shard::vector<int> unique_keys(ctx, 0), totals(ctx, 0);
      const std::size_t runs = shard::reduce_by_key(keys, values, unique_keys, totals);
      REQUIRE(runs == sums.size());
      const auto uk = unique_keys.to_host();
      const auto ut = totals.to_host();
      std::size_t r = 0;
      for (const auto& [key, sum] : sums) {
        CHECK(uk[r] == key);
        CHECK(ut[r] == sum);
        ++r;
      }

      // merge of two halves of the sorted keys into the wrapped output (n elements).
      const std::size_t half = n / 2;
      std::vector<int> a(sorted_k.begin(), sorted_k.begin() + static_cast<std::ptrdiff_t>(half));
      std::vector<int> b(sorted_k.begin() + static_cast<std::ptrdiff_t>(half), sorted_k.end());
      std::reverse(b.begin(), b.end());
      std::sort(b.begin(), b.end());
      const shard::vector<int> va(ctx, a), vb(ctx, b);
      shard::merge(va, vb, out);
      std::vector<int> merged(n);
      std::merge(a.begin(), a.end(), b.begin(), b.end(), merged.begin());
      CHECK(read_back(ctx, out_mem) == merged);

      // A stencil from the wrapped values into the wrapped output: out[i] = in[i-1] + in[i+1].
      const shard::stencil<int> step(values, 1, shard::boundary<int>::constant(0));
      step.apply(values, out, [] SHARD_HOST_DEVICE(const shard::window<int>& w) { return w[-1] + w[1]; });
      std::vector<int> expected(n);
      for (std::size_t i = 0; i < n; ++i)
        expected[i] = (i == 0 ? 0 : sorted_v[i - 1]) + (i + 1 == n ? 0 : sorted_v[i + 1]);
      CHECK(read_back(ctx, out_mem) == expected);
      CHECK(out.segment_sizes() == sizes);
    }
  }
}

TEST_CASE("vector::wrap: what would reallocate the wrapped memory throws invalid_argument and changes nothing" *
          doctest::test_suite("interop")) {
  for (auto& ctx : test::contexts(3)) {
    app_buffers mem(ctx, {4, 0, 6});
    auto v = shard::vector<int>::wrap(ctx, mem.parts());
    shard::iota(v, 1);
    const auto before = v.to_host();
    CHECK_THROWS_WITH_AS(v.resize(11), doctest::Contains("never reallocates"), shard::invalid_argument);
    CHECK_THROWS_WITH_AS(v.redistribute(shard::distribution::even()), doctest::Contains("vector::redistribute"),
                         shard::invalid_argument);
    CHECK_THROWS_WITH_AS(v = shard::vector<int>(ctx, 9, 0), doctest::Contains("vector::wrap"),
                         shard::invalid_argument);
    CHECK_THROWS_AS(shard::remove_if(v, [] SHARD_HOST_DEVICE(int x) { return x % 2 == 0; }), shard::invalid_argument);
    shard::vector<int> out(ctx, 0);
    app_buffers other_mem(ctx, {4, 0, 6});
    auto out_wrapped = shard::vector<int>::wrap(ctx, other_mem.parts());
    CHECK_THROWS_AS(shard::copy_if(v, out_wrapped, [] SHARD_HOST_DEVICE(int x) { return x > 3; }), shard::invalid_argument);
    CHECK(shard::copy_if(v, out, [] SHARD_HOST_DEVICE(int x) { return x > 3; }) == 7);  // into shard's memory: fine
    auto other = shard::context::host(3);
    CHECK_THROWS_WITH_AS(v = shard::vector<int>(other, 10, 0), doctest::Contains("another context"),
                         shard::invalid_argument);
    CHECK(v.to_host() == before);
    CHECK(read_back(ctx, mem) == before);
  }
}

TEST_CASE("vector::wrap refuses buffers it cannot use, naming the shard" * doctest::test_suite("interop")) {
  auto ctx = shard::context::host(3);
  std::vector<int> a(8), b(8);
  using parts = std::vector<std::span<int>>;
  CHECK_THROWS_WITH_AS(shard::vector<int>::wrap(ctx, parts{{a.data(), 8}}), doctest::Contains("1 buffers for 3 shards"),
                       shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::vector<int>::wrap(ctx, parts{{a.data(), 8}, {static_cast<int*>(nullptr), 3}, {}}),
                       doctest::Contains("shard 1 is null"), shard::invalid_argument);
  auto* odd = reinterpret_cast<int*>(reinterpret_cast<char*>(b.data()) + 1);
  CHECK_THROWS_WITH_AS(shard::vector<int>::wrap(ctx, parts{{a.data(), 8}, {}, {odd, 2}}),
                       doctest::Contains("shard 2 is not aligned"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::vector<int>::wrap(ctx, parts{{a.data(), 8}, {b.data(), 4}, {a.data() + 6, 2}}),
                       doctest::Contains("shards 0 and 2 overlap"), shard::invalid_argument);
  auto empty = shard::vector<int>::wrap(ctx, parts{{}, {}, {}});
  CHECK(empty.size() == 0);
  CHECK(empty.wrapped());
#if SHARD_HAS_CUDA
  if (test::gpu_count() > 0) {
    auto gpu = shard::context::cuda({0});
    CHECK_THROWS_WITH_AS(shard::vector<int>::wrap(gpu, parts{{a.data(), 8}}), doctest::Contains("is host memory"),
                         shard::invalid_argument);
  }
#endif
}

TEST_CASE("vector::wrap on ranks: each rank wraps its own shards' buffers; the ranks learn each other's sizes" *
          doctest::test_suite("interop")) {
  shard::thread_ranks world(2);
  std::vector<std::vector<int>> seen(2);
  std::atomic<int> refused{0};
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(static_cast<std::size_t>(r) + 1));
    // Rank 0 has shard 0 (5 elements), rank 1 shards 1 and 2 (3 and 0 elements).
    std::vector<int> mine(r == 0 ? 5 : 3);
    std::vector<std::span<int>> parts;
    if (r == 0) parts = {{mine.data(), 5}};
    else parts = {{mine.data(), 3}, {}};
    auto v = shard::vector<int>::wrap(ctx, parts);
    shard::iota(v, 10);
    shard::sort(v, shard::greater<>{});
    seen[static_cast<std::size_t>(r)] = mine;
    if (v.segment_sizes() != std::vector<std::size_t>{5, 3, 0}) seen[static_cast<std::size_t>(r)].clear();
    // A rank's wrong buffer count throws on both ranks.
    try {
      (void)shard::vector<int>::wrap(ctx, r == 0 ? parts : std::vector<std::span<int>>{});
    } catch (const shard::invalid_argument&) {
      ++refused;
    }
  });
  CHECK(seen[0] == std::vector<int>{17, 16, 15, 14, 13});
  CHECK(seen[1] == std::vector<int>{12, 11, 10});
  CHECK(refused.load() == 2);
}

TEST_CASE("an application's allocator sees every allocation of a context and its matching free" *
          doctest::test_suite("interop")) {
  counting_allocator counter;
  for (std::size_t g : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
    CAPTURE(g);
    auto options = test::gpu_like();
    options.allocator = counter.get();
    {
      auto ctx = shard::context::host(g, options);
      shard::vector<int> v(ctx, 10000, 0);
      shard::iota(v, 0);
      shard::transform(v, v, [] SHARD_HOST_DEVICE(int x) { return (x * 7919) % 10007; });
      shard::sort(v);  // scratch buffers of its own
      shard::vector<int> w(ctx, 5000, 1);
      CHECK(shard::reduce(w) == 5000);
      const auto host = v.to_host();
      CHECK(std::is_sorted(host.begin(), host.end()));
      const auto peaks = ctx.stats().peak_bytes;
      // The peak counts what shard allocated, as with its own memory.
      CHECK(std::accumulate(peaks.begin(), peaks.end(), std::uint64_t{0}) >= (10000 + 5000) * sizeof(int));
      std::lock_guard<std::mutex> lock(counter.m);
      for (std::size_t s = 0; s < g; ++s) CHECK(counter.per_shard[s] > 0);
    }
    std::lock_guard<std::mutex> lock(counter.m);
    CHECK(counter.allocations > 0);
    CHECK(counter.live.empty());  // every allocation freed once the context and its vectors are gone
    CHECK(counter.frees == counter.allocations);
    CHECK(counter.mismatched == 0);
  }
}

namespace {
/// A memory resource in CCCL's synchronous cuda::mr shape (allocate/deallocate with an
/// alignment), host memory, counting what it gives and takes back.
struct counting_resource {
  struct state {
    std::mutex m;
    std::map<void*, std::size_t> live;
    std::size_t allocations = 0, wrong_alignment = 0, mismatched = 0;
  };
  std::shared_ptr<state> st = std::make_shared<state>();
  void* allocate(std::size_t bytes, std::size_t alignment) {
    void* p = ::operator new(bytes, std::align_val_t(alignment));
    std::lock_guard<std::mutex> lock(st->m);
    st->live[p] = bytes;
    ++st->allocations;
    if (alignment != 256) ++st->wrong_alignment;
    return p;
  }
  void deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    {
      std::lock_guard<std::mutex> lock(st->m);
      const auto it = st->live.find(p);
      if (it == st->live.end() || it->second != bytes) ++st->mismatched;
      else st->live.erase(it);
    }
    ::operator delete(p, std::align_val_t(alignment));
  }
  friend bool operator==(const counting_resource& a, const counting_resource& b) { return a.st == b.st; }
};
}  // namespace

TEST_CASE("allocator::from_resource and from_resources (one per device): a cuda::mr-shaped resource serves every "
          "allocation" *
          doctest::test_suite("interop")) {
  counting_resource one;
  std::vector<counting_resource> per_shard(3);
  for (const bool each : {false, true}) {
    CAPTURE(each);
    auto options = test::gpu_like();
    options.allocator = each ? shard::allocator::from_resources(per_shard) : shard::allocator::from_resource(one);
    {
      auto ctx = shard::context::host(3, options);
      shard::vector<int> v(ctx, 30000, 0);
      shard::iota(v, 0);
      shard::transform(v, v, [] SHARD_HOST_DEVICE(int x) { return (x * 7919) % 30011; });
      shard::sort(v);
      const auto host = v.to_host();
      CHECK(std::is_sorted(host.begin(), host.end()));
    }
    for (auto* r : each ? std::vector<counting_resource*>{&per_shard[0], &per_shard[1], &per_shard[2]}
                        : std::vector<counting_resource*>{&one}) {
      std::lock_guard<std::mutex> lock(r->st->m);
      CHECK(r->st->allocations > 0);
      CHECK(r->st->live.empty());
      CHECK(r->st->wrong_alignment == 0);
      CHECK(r->st->mismatched == 0);
    }
  }
  // Fewer resources than shards: the shard without one is named.
  shard::host_options short_list;
  short_list.allocator = shard::allocator::from_resources(std::vector<counting_resource>(2));
  auto ctx = shard::context::host(3, short_list);
  CHECK_THROWS_WITH_AS(shard::vector<int>(ctx, 30), doctest::Contains("no resource for device 2"),
                       shard::invalid_argument);
  CHECK_THROWS_AS(shard::allocator::from_resources(std::vector<counting_resource>{}), shard::invalid_argument);
}

TEST_CASE("an application's allocator on ranks: each rank's context allocates through its own" *
          doctest::test_suite("interop")) {
  shard::thread_ranks world(2);
  std::vector<counting_allocator> counters(2);
  std::atomic<int> right{0};
  world.run([&](int r) {
    shard::host_options options;
    options.allocator = counters[static_cast<std::size_t>(r)].get();
    {
      auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(2, options));
      shard::vector<int> v(ctx, 20000, 0);
      shard::iota(v, 0);
      shard::sort(v, shard::greater<>{});
      if (v.get(0) == 19999 && v.get(19999) == 0) ++right;
    }
  });
  CHECK(right.load() == 2);
  for (auto& c : counters) {
    CHECK(c.allocations > 0);
    CHECK(c.live.empty());
    CHECK(c.mismatched == 0);
  }
}

TEST_CASE("an application's allocator: no memory is out_of_memory naming the shard; bad allocators are refused" *
          doctest::test_suite("interop")) {
  shard::host_options options;
  std::atomic<int> freed{0};
  options.allocator = shard::allocator{[](std::size_t, const shard::allocation_place& where) -> void* {
                                         return where.shard == 1 ? nullptr : ::operator new(64, std::align_val_t(256));
                                       },
                                       [&](void* p, std::size_t, const shard::allocation_place&) {
                                         ::operator delete(p, std::align_val_t(256));
                                         ++freed;
                                       }};
  {
    auto ctx = shard::context::host(2, options);
    try {
      shard::vector<char> v(ctx, 64);
      FAIL("allocated on a shard whose allocator has no memory");
    } catch (const shard::out_of_memory& e) {
      CHECK(e.shard() == 1);
      CHECK(std::string(e.what()).find("the application's allocator") != std::string::npos);
    }
    CHECK(freed.load() == 1);  // shard 0's segment, given back as the construction failed
  }
  options.allocator.allocate = [](std::size_t, const shard::allocation_place&) -> void* {
    return static_cast<char*>(::operator new(128, std::align_val_t(256))) + 64;
  };
  options.allocator.deallocate = [&](void* p, std::size_t, const shard::allocation_place&) {
    ::operator delete(static_cast<char*>(p) - 64, std::align_val_t(256));
    ++freed;
  };
  {
    auto ctx = shard::context::host(1, options);
    CHECK_THROWS_WITH_AS(shard::vector<char>(ctx, 64), doctest::Contains("aligned to less than 256"),
                         shard::invalid_argument);
    CHECK(freed.load() == 2);  // the misaligned memory went back to the application
  }
  options.allocator.deallocate = nullptr;
  CHECK_THROWS_WITH_AS(shard::context::host(2, options), doctest::Contains("both callables"), shard::invalid_argument);
  // The emulated capacity still holds with the application's allocator.
  counting_allocator counter;
  shard::host_options small;
  small.memory_per_shard = 1024;
  small.allocator = counter.get();
  {
    auto ctx = shard::context::host(2, small);
    CHECK_THROWS_AS(shard::vector<char>(ctx, 4096), shard::out_of_memory);
  }
  CHECK(counter.live.empty());
}

#if SHARD_HAS_CUDA
TEST_CASE("a CUDA context on the application's streams and stream-ordered allocator" * doctest::test_suite("interop")) {
  if (!test::backend_enabled("cuda") || test::gpu_count() == 0) return;
  const int gpus = test::gpu_count();
  const auto ordinals = shard::context::round_robin_ordinals(3, static_cast<std::size_t>(gpus));
  shard::cuda_options options;
  for (int d : ordinals) {
    cudaStream_t s = nullptr;
    REQUIRE(cudaSetDevice(d) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    options.streams.push_back(s);
  }
  std::atomic<long> live{0};
  std::atomic<long> allocations{0};
  options.allocator = shard::allocator{
      [&](std::size_t bytes, const shard::allocation_place& where) -> void* {
        void* p = nullptr;
        if (cudaMallocAsync(&p, bytes, static_cast<cudaStream_t>(where.stream)) != cudaSuccess) return nullptr;
        ++live;
        ++allocations;
        return p;
      },
      [&](void* p, std::size_t, const shard::allocation_place& where) {
        (void)cudaFreeAsync(p, static_cast<cudaStream_t>(where.stream));
        --live;
      }};
  {
    auto ctx = shard::context::cuda(ordinals, options);
    shard::vector<int> v(ctx, 100000, 0);
    shard::iota(v, 0);
    shard::transform(v, v, [] SHARD_HOST_DEVICE(int x) { return (x * 7919) % 100003; });
    shard::sort(v);
    std::size_t shard_seen = 0;
    shard::on_each_shard(
        [&](const shard::shard_place& here, shard::segment<int>) {
          if (here.stream == options.streams[here.shard]) ++shard_seen;
        },
        v);
    CHECK(shard_seen == 3);
    const auto host = v.to_host();
    CHECK(std::is_sorted(host.begin(), host.end()));
  }
  CHECK(allocations.load() > 0);
  CHECK(live.load() == 0);
  for (std::size_t s = 0; s < options.streams.size(); ++s) {
    CHECK(cudaStreamSynchronize(options.streams[s]) == cudaSuccess);  // the application's streams live on
    (void)cudaStreamDestroy(options.streams[s]);
  }
  CHECK_THROWS_WITH_AS(shard::context::cuda({0}, shard::cuda_options{{nullptr}, {}}),
                       doctest::Contains("default stream"), shard::invalid_argument);
}

namespace {
/// The application's kernel: a slow write of `value` into every element (each thread spins a
/// while first), so that a shard call not ordered after it would read the old values.
__global__ void slow_fill(int* p, std::size_t n, int value) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  const long long start = clock64();
  while (clock64() - start < 2000000) {
  }
  if (i < n) p[i] = value;
}

/// An async memory resource in CCCL's cuda::mr shape over cudaMallocAsync.
struct async_counting_resource {
  std::shared_ptr<std::atomic<long>> live = std::make_shared<std::atomic<long>>(0);
  std::shared_ptr<std::atomic<long>> streamed = std::make_shared<std::atomic<long>>(0);
  void* allocate(std::size_t bytes, std::size_t) {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) throw std::bad_alloc();
    ++*live;
    return p;
  }
  void deallocate(void* p, std::size_t, std::size_t) {
    (void)cudaFree(p);
    --*live;
  }
  void* allocate_async(std::size_t bytes, std::size_t, cuda::stream_ref stream) {
    void* p = nullptr;
    if (cudaMallocAsync(&p, bytes, stream.get()) != cudaSuccess) throw std::bad_alloc();
    ++*live;
    ++*streamed;
    return p;
  }
  void deallocate_async(void* p, std::size_t, std::size_t, cuda::stream_ref stream) {
    (void)cudaFreeAsync(p, stream.get());
    --*live;
  }
  friend bool operator==(const async_counting_resource& a, const async_counting_resource& b) {
    return a.live == b.live;
  }
};
}  // namespace

TEST_CASE("the application's streams: a shard call is ordered after the application's kernels without a host sync" *
          doctest::test_suite("interop")) {
  if (!test::backend_enabled("cuda") || test::gpu_count() == 0) return;
  const int gpus = test::gpu_count();
  const auto ordinals = shard::context::round_robin_ordinals(2, static_cast<std::size_t>(gpus));
  shard::cuda_options options;
  for (int d : ordinals) {
    cudaStream_t s = nullptr;
    REQUIRE(cudaSetDevice(d) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    options.streams.push_back(s);
  }
  async_counting_resource resource;
  options.allocator = shard::allocator::from_resource(resource);
  {
    auto ctx = shard::context::cuda(ordinals, options);
    const std::size_t n = 1 << 16;
    shard::vector<int> v(ctx, n, 0);
    for (int round = 1; round <= 3; ++round) {
      // The application's kernels on the shards' streams, then at once (no host sync of the
      // application's) shard's reduce and sort: they must see the kernels' values.
      for (std::size_t s = 0; s < v.num_segments(); ++s) {
        const auto seg = v.segment(s);
        if (seg.size == 0) continue;
        REQUIRE(cudaSetDevice(seg.device) == cudaSuccess);
        slow_fill<<<static_cast<unsigned>((seg.size + 255) / 256), 256, 0, options.streams[s]>>>(
            seg.data, seg.size, round * static_cast<int>(s + 1));
        REQUIRE(cudaGetLastError() == cudaSuccess);
      }
      long long expected = 0;
      for (std::size_t s = 0; s < v.num_segments(); ++s)
        expected += static_cast<long long>(v.segment(s).size) * round * static_cast<long long>(s + 1);
      CHECK(shard::transform_reduce(v, 0LL, shard::plus<>{}, [] SHARD_HOST_DEVICE(int x) { return (long long)x; }) ==
            expected);
    }
  }
  CHECK(resource.streamed->load() > 0);  // allocate_async on the shards' streams
  CHECK(resource.live->load() == 0);
  for (auto s : options.streams) {
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    (void)cudaStreamDestroy(s);
  }
}
#endif
