// shard::on_each_shard: the application's callable once on every shard, all at once, with the
// shard's segments, device and (CUDA) stream; its failures thrown naming the shard; one host
// sync; nothing left running.
#include "../support/test_support.hpp"

#include <shard/on_each_shard.hpp>
#include <shard/reduce.hpp>
#include <shard/thread_ranks.hpp>

#if SHARD_HAS_CUDA
#  include <thrust/execution_policy.h>
#  include <thrust/sequence.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// Every shard's call waits here until all `expected` calls arrived (or 20 s passed): calls
/// made one after another would never all arrive.
class barrier {
 public:
  explicit barrier(std::size_t expected) : expected_(expected) {}
  bool arrive_and_wait() {
    std::unique_lock<std::mutex> lock(m_);
    ++arrived_;
    cv_.notify_all();
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return arrived_ >= expected_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t arrived_ = 0, expected_;
};

struct seen_on_shard {
  std::size_t calls = 0, shard = 0, segment_shard = 0, offset = 0, size = 0, other_size = 0;
  int device = -1, current_device = -1, segment_device = -1;
};

}  // namespace

TEST_CASE("on_each_shard runs the callable once on every shard, all at once, then waits once" *
          doctest::test_suite("interop")) {
  for (std::size_t g : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
    CAPTURE(g);
    // A thread per device (the default up to 64 devices): every shard's call runs at once.
    auto ctx = shard::context::host(g);
    barrier all(g);
    std::vector<std::atomic<int>> calls(g);
    std::atomic<int> timed_out{0};
    ctx.reset_stats();
    shard::on_each_shard(ctx, [&](const shard::shard_place& here) {
      ++calls[here.shard];
      if (!all.arrive_and_wait()) ++timed_out;
    });
    CHECK(timed_out.load() == 0);
    for (std::size_t s = 0; s < g; ++s) CHECK(calls[s].load() == 1);
    CHECK(ctx.stats().host_syncs == 1);
    CHECK(ctx.stats().total_launches() == g);
    for (std::size_t s = 0; s < g; ++s) CHECK(ctx.stats().launches[s] == 1);
    for (std::size_t s = 0; s < g; ++s) CHECK(ctx.impl().dev(s).idle());
  }
}

TEST_CASE("on_each_shard gives every shard its segments of aligned vectors, its device and its stream" *
          doctest::test_suite("interop")) {
  for (std::size_t g : test::shard_counts) {
    for (auto& ctx : test::contexts(g)) {
      const std::size_t n = 1000 + 37 * g;
      for (const auto& d : test::distributions(n, g)) {
        CAPTURE(g);
        CAPTURE(test::name(ctx.kind()));
        shard::vector<int> a(ctx, n, 0, d);
        shard::vector<float> b(ctx, n, 0.0f, d);
        std::vector<seen_on_shard> seen(g);
        shard::on_each_shard(
            [&](const shard::shard_place& here, shard::segment<int> x, shard::segment<float> y) {
              auto& s = seen[here.shard];
              ++s.calls;
              s.shard = here.shard;
              s.device = here.device;
              s.segment_shard = x.shard;
              s.segment_device = x.device;
              s.offset = x.offset;
              s.size = x.size;
              s.other_size = y.size;
#if SHARD_HAS_CUDA
              if (here.stream != nullptr) {  // a GPU: the application's own work on the shard's stream
                cudaGetDevice(&s.current_device);
                thrust::sequence(thrust::cuda::par_nosync.on(here.stream), x.data, x.data + x.size,
                                 static_cast<int>(x.offset));
                thrust::sequence(thrust::cuda::par_nosync.on(here.stream), y.data, y.data + y.size,
                                 static_cast<float>(x.offset), 2.0f);
                return;
              }
#endif
              s.current_device = here.device;
              for (std::size_t i = 0; i < x.size; ++i) x.data[i] = static_cast<int>(x.offset + i);
              for (std::size_t i = 0; i < y.size; ++i) y.data[i] = 2.0f * static_cast<float>(x.offset + i);
            },
            a, b);
        for (std::size_t s = 0; s < g; ++s) {
          CAPTURE(s);
          const auto seg = a.segment(s);
          CHECK(seen[s].calls == 1);
          CHECK(seen[s].shard == s);
          CHECK(seen[s].segment_shard == s);
          CHECK(seen[s].device == ctx.topology().shards[s].ordinal);
          CHECK(seen[s].current_device == seen[s].device);
          CHECK(seen[s].segment_device == seen[s].device);
          CHECK(seg.device == seen[s].device);
          CHECK(seen[s].offset == seg.offset);
          CHECK(seen[s].size == seg.size);
          CHECK(seen[s].other_size == seg.size);
        }
        std::vector<int> want_a(n);
        std::vector<float> want_b(n);
        for (std::size_t i = 0; i < n; ++i) want_a[i] = static_cast<int>(i), want_b[i] = 2.0f * static_cast<float>(i);
        CHECK(a.to_host() == want_a);
        CHECK(b.to_host() == want_b);
      }
    }
  }
}

TEST_CASE("on_each_shard throws what the callable threw on a shard as shard::error naming it, after every shard ran" *
          doctest::test_suite("interop")) {
  auto ctx = shard::context::host(4);
  shard::vector<int> v(ctx, 100, 1);
  std::vector<std::atomic<int>> calls(4);
  try {
    shard::on_each_shard(
        [&](const shard::shard_place& here, shard::segment<int>) {
          ++calls[here.shard];
          if (here.shard == 2) throw std::runtime_error("boom");
        },
        v);
    FAIL("on_each_shard did not throw");
  } catch (const shard::error& e) {
    CHECK(e.shard() == 2);
    CHECK(e.device() == 2);
    CHECK(std::string(e.what()).find("boom") != std::string::npos);
    CHECK(std::string(e.what()).find("shard::on_each_shard") != std::string::npos);
    try {
      std::rethrow_if_nested(e);
      FAIL("the callable's exception is not nested");
    } catch (const std::runtime_error& inner) {
      CHECK(std::string(inner.what()) == "boom");
    }
  }
  for (std::size_t s = 0; s < 4; ++s) {
    CHECK(calls[s].load() == 1);
    CHECK(ctx.impl().dev(s).idle());
  }
  CHECK(shard::reduce(v) == 100);  // the context goes on
  // Something that is not a std::exception, too.
  CHECK_THROWS_AS(shard::on_each_shard(ctx,
                                       [](const shard::shard_place& here) {
                                         if (here.shard == 0) throw 7;
                                       }),
                  shard::error);
}

TEST_CASE("on_each_shard refuses vectors of different layouts or contexts" * doctest::test_suite("interop")) {
  auto ctx = shard::context::host(3), other = shard::context::host(3);
  shard::vector<int> a(ctx, 90, 0), b(ctx, 90, 0, shard::distribution::explicit_sizes({10, 40, 40})), c(other, 90, 0);
  const auto f = [](const shard::shard_place&, shard::segment<int>, shard::segment<int>) {};
  CHECK_THROWS_AS(shard::on_each_shard(f, a, b), shard::invalid_argument);
  CHECK_THROWS_AS(shard::on_each_shard(f, a, c), shard::invalid_argument);
  CHECK_NOTHROW(shard::on_each_shard(f, a, a));
}

TEST_CASE("on_each_shard on ranks: each rank runs the callable on its own shards; a failure throws on every rank" *
          doctest::test_suite("interop")) {
  shard::thread_ranks world(2);
  std::vector<std::vector<std::size_t>> ran(2);
  std::atomic<int> threw{0};
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(static_cast<std::size_t>(r) + 1));
    shard::vector<int> v(ctx, 30, 1);
    std::mutex m;
    shard::on_each_shard(
        [&](const shard::shard_place& here, shard::segment<int> seg) {
          std::lock_guard<std::mutex> lock(m);
          ran[static_cast<std::size_t>(r)].push_back(here.shard);
          for (std::size_t i = 0; i < seg.size; ++i) seg.data[i] = 2;
        },
        v);
    if (shard::reduce(v) != 60) ++threw;  // every shard's segment written by its own rank
    try {
      shard::on_each_shard(ctx, [](const shard::shard_place& here) {
        if (here.shard == 2) throw std::runtime_error("rank 1's second shard");
      });
    } catch (const shard::error&) {
      ++threw;  // on both ranks
    }
  });
  std::sort(ran[1].begin(), ran[1].end());
  CHECK(ran[0] == std::vector<std::size_t>{0});
  CHECK(ran[1] == std::vector<std::size_t>{1, 2});
  CHECK(threw.load() == 2);
}
