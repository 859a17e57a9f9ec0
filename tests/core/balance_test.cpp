// Layouts from measured speed and memory: distribution::balanced's sizes (speeds, capacities,
// water-filling), the calibration (cached, run again on request, shared by ranks), and
// shard::balanced(ctx) on emulated devices of different speeds and memories.
#include "../support/test_support.hpp"

#include <shard/balance.hpp>
#include <shard/sort.hpp>
#include <shard/thread_ranks.hpp>

#include <numeric>
#include <vector>

TEST_CASE("distribution::balanced: sizes by speed, none past its capacity, the rest shared by speed" *
          doctest::test_suite("balance")) {
  using shard::distribution;
  const auto none = distribution::no_limit;
  // No limits: as weighted.
  CHECK(distribution::balanced({1, 1, 0.5, 0.25}, {none, none, none, none}).sizes(2750, 4, 4) ==
        std::vector<std::size_t>{1000, 1000, 500, 250});
  CHECK(distribution::balanced({1, 1, 0.5, 0.25}, {none, none, none, none}).sizes(2750, 4) ==
        distribution::weighted({1, 1, 0.5, 0.25}).sizes(2750, 4));
  // Shard 0 holds at most 400 elements of 4 bytes (1600 bytes): the others share the rest.
  const auto d = distribution::balanced({1, 1, 0.5, 0.25}, {1600, none, none, none});
  const auto s = d.sizes(2750, 4, 4);
  CHECK(s[0] == 400);
  CHECK(std::accumulate(s.begin(), s.end(), std::size_t{0}) == 2750);
  // 2350 by {1, 0.5, 0.25}: 1342.86, 671.43, 335.71; the two elements left go to the largest
  // remainders.
  CHECK(s[1] == 1343);
  CHECK(s[2] == 671);
  CHECK(s[3] == 336);
  // Capping cascades: shard 1 is capped once shard 0's excess goes to it.
  const auto c = distribution::balanced({1, 1, 1}, {400, 1000, none}).sizes(3000, 3, 4);
  CHECK(c == std::vector<std::size_t>{100, 250, 2650});
  // Without an element size the capacities are not applied.
  CHECK(distribution::balanced({1, 1}, {4, 4}).sizes(10, 2) == std::vector<std::size_t>{5, 5});
  // Too little room in all: out_of_memory with the bytes needed and free.
  try {
    (void)distribution::balanced({1, 1}, {40, 40}).sizes(21, 2, 4);
    FAIL("21 elements of 4 bytes do not fit in 80 bytes");
  } catch (const shard::out_of_memory& e) {
    CHECK(e.requested() == 84);
    CHECK(e.free_bytes() == 80);
    CHECK(std::string(e.what()).find("distribution::balanced") != std::string::npos);
  }
  CHECK_THROWS_AS(distribution::balanced({1, 1}, {4}), shard::invalid_argument);
  CHECK_THROWS_AS(distribution::balanced({1, -1}, {4, 4}), shard::invalid_argument);
  CHECK_THROWS_AS(distribution::balanced({1, 1}, {none, none}).sizes(10, 3), shard::invalid_argument);
  CHECK(distribution::balanced({1, 2}, {8, 8}) == distribution::balanced({1, 2}, {8, 8}));
  CHECK_FALSE(distribution::balanced({1, 2}, {8, 8}) == distribution::balanced({1, 2}, {8, 16}));
}

TEST_CASE("the calibration: every shard timed at once, cached in the context, run again on request" *
          doctest::test_suite("balance")) {
  shard::calibration_options small{1 << 16, 1 << 13, 2};
  for (auto& ctx : test::contexts(3)) {
    CAPTURE(test::name(ctx.kind()));
    CHECK(ctx.impl().cached_calibration() == nullptr);
    ctx.reset_stats();
    const auto c = shard::calibrate(ctx, small);
    REQUIRE(c.speed.size() == 3);
    CHECK(c.transform_elements == (1u << 16));
    CHECK(c.sort_elements == (1u << 13));
    CHECK(*std::max_element(c.speed.begin(), c.speed.end()) == 1.0);
    for (std::size_t s = 0; s < 3; ++s) {
      CHECK(c.speed[s] > 0);
      CHECK(c.transform_ms[s] > 0);
      CHECK(c.sort_ms[s] > 0);
    }
    const auto launches = ctx.stats().total_launches();
    CHECK(launches >= 3 * 2 * 2);  // a transform and a sort per repetition and shard
    // Cached: no second calibration.
    CHECK(shard::calibration_of(ctx).speed == c.speed);
    CHECK(ctx.stats().total_launches() == launches);
    // A copy of the context shares it; calibrate runs again.
    const shard::context copy = ctx;
    CHECK(shard::calibration_of(copy).transform_ms == c.transform_ms);
    (void)shard::calibrate(copy, small);
    CHECK(ctx.stats().total_launches() > launches);
    CHECK_THROWS_AS(shard::calibrate(ctx, {16, 16, 0}), shard::invalid_argument);
  }
}

TEST_CASE("shard::balanced: slower emulated devices get fewer elements, a small memory caps its shard" *
          doctest::test_suite("balance")) {
  shard::host_options options;
  options.speed = {1.0, 1.0, 0.25};
  const std::size_t memory = std::size_t{4} << 20;
  options.memory_per_shard = memory;
  auto ctx = shard::context::host(3, options);
  const auto c = shard::calibrate(ctx, {1 << 18, 1 << 15, 3});
  // The device four times as slow measures slower than both others (by a wide margin: the
  // emulation stretches its kernels by their CPU time).
  CHECK(c.speed[2] < 0.7 * c.speed[0]);
  CHECK(c.speed[2] < 0.7 * c.speed[1]);
  MESSAGE(c);
  const auto d = shard::balanced(ctx);
  CHECK(d.type() == shard::distribution::kind::balanced);
  CHECK(d.weights() == c.speed);
  // A vector on it: the slow shard holds the fewest elements, the layout sums to n, and the
  // algorithms take it.
  std::vector<int> host(60000);
  std::iota(host.rbegin(), host.rend(), 0);
  shard::vector<int> v(ctx, host, d);
  const auto sizes = v.segment_sizes();
  CHECK(sizes[2] < sizes[0]);
  CHECK(sizes[2] < sizes[1]);
  shard::sort(v);
  const auto sorted = v.to_host();
  CHECK(std::is_sorted(sorted.begin(), sorted.end()));
  // 4 MiB per shard: a vector of nearly all the free memory fills the fast shards to their
  // memory and gives the slow one the rest; more than all of it is out_of_memory before any
  // allocation.
  const auto free_now = shard::free_memory(ctx);
  CHECK(free_now[0] == memory - sizes[0] * sizeof(int));
  const std::size_t nearly = free_now[0] + free_now[1] + free_now[2] - 1000;
  shard::vector<char> most(ctx, nearly, shard::balanced(ctx));
  CHECK(most.segment_sizes()[0] == free_now[0]);
  CHECK(most.segment_sizes()[1] == free_now[1]);
  CHECK(most.segment_sizes()[2] == free_now[2] - 1000);
  most = shard::vector<char>(ctx, 0);
  const auto before = ctx.stats().total_launches();
  CHECK_THROWS_AS(shard::vector<char>(ctx, nearly + 2000, shard::balanced(ctx)), shard::out_of_memory);
  CHECK(ctx.stats().total_launches() == before);
  CHECK_THROWS_AS(shard::balanced(ctx, 0.0), shard::invalid_argument);
  // A fraction of the memory: at most half of each shard's free bytes.
  const auto half = shard::balanced(ctx, 0.5);
  const auto after = shard::free_memory(ctx);
  for (std::size_t s = 0; s < 3; ++s) CHECK(half.capacities()[s] == after[s] / 2);
}

TEST_CASE("shard::balanced on ranks: every rank's shards calibrated, the same layout on every rank" *
          doctest::test_suite("balance")) {
  shard::thread_ranks world(2);
  std::vector<std::vector<std::size_t>> seen(2);
  world.run([&](int r) {
    shard::host_options options;
    if (r == 1) options.speed = {0.25};
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(r == 0 ? 2 : 1, options));
    (void)shard::calibrate(ctx, {1 << 17, 1 << 14, 2});
    shard::vector<int> v(ctx, 30000, 1, shard::balanced(ctx));
    seen[static_cast<std::size_t>(r)] = v.segment_sizes();
    if (shard::reduce(v) != 30000) throw std::runtime_error("reduce");
  });
  CHECK(seen[0] == seen[1]);
  REQUIRE(seen[0].size() == 3);
  CHECK(seen[0][2] < seen[0][0]);  // rank 1's slow shard
}
