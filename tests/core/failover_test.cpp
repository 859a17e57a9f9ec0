// Failover: after a sticky fault on one shard, a context over the survivors, every vector's
// surviving segments moved onto it with the lost index ranges, only those read again, and the
// work finished right; and a copy of any vector onto any other context.
#include "../support/test_support.hpp"

#include <shard/failover.hpp>
#include <shard/sort.hpp>
#include <shard/testing.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

namespace {
std::vector<int> shuffled(std::size_t n, unsigned seed) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  std::mt19937 gen(seed);
  std::shuffle(v.begin(), v.end(), gen);
  return v;
}
}  // namespace

TEST_CASE("failover: a read-only call faults on one shard; the survivors keep every other element" *
          doctest::test_suite("failover")) {
  for (std::size_t g : {2u, 3u, 4u, 7u}) {
    for (std::size_t bad = 0; bad < g; ++bad) {
      CAPTURE(g);
      CAPTURE(bad);
      auto ctx = shard::context::host(g, test::gpu_like());
      const auto source = shuffled(10007, static_cast<unsigned>(g * 31 + bad));
      shard::vector<int> v(ctx, source);
      shard::testing::inject_device_fault(ctx, bad, 1);
      try {
        (void)shard::reduce(v);
        FAIL("the reduce should have faulted");
      } catch (const shard::device_fault& e) {
        CHECK(e.shard() == static_cast<int>(bad));
      }
      CHECK(ctx.faulted_shards() == std::vector<std::size_t>{bad});
      CHECK_THROWS_AS((void)shard::reduce(v), shard::device_fault);  // sticky
      const auto survivors = ctx.survivors();
      REQUIRE(survivors.size() == g - 1);
      CHECK(survivors.faulted_shards().empty());
      const auto seg = v.segment(bad);
      auto [w, lost] = shard::salvage(v, survivors);
      CHECK(v.size() == 0);
      REQUIRE(w.size() == source.size());
      CHECK(w.get_context() == survivors);
      CHECK(w.distribution() == shard::distribution::explicit_sizes(shard::distribution::even().sizes(source.size(), g - 1)));
      REQUIRE(lost.size() == 1);
      CHECK(lost[0] == shard::index_range{seg.offset, seg.offset + seg.size});
      // Every element outside the lost range is the source's; the lost ones are zero.
      const auto host = w.to_host();
      for (std::size_t i = 0; i < host.size(); ++i) {
        if (i >= lost[0].first && i < lost[0].last) CHECK(host[i] == 0);
        else if (host[i] != source[i]) CHECK(host[i] == source[i]);
      }
      // Only the lost range is read again; then the survivors carry on.
      shard::copy(std::span<const int>(source.data() + lost[0].first, lost[0].size()), w, lost[0].first);
      CHECK(w.to_host() == source);
      CHECK(shard::reduce(w) == std::accumulate(source.begin(), source.end(), 0));
    }
  }
}

TEST_CASE("failover: a sort faults at any of its primitives on one shard; salvage, read the lost range again, sort: "
          "the right result" * doctest::test_suite("failover")) {
  const std::size_t g = 4, bad = 2, n = 20011;
  const auto source = shuffled(n, 7);
  auto expected = source;
  std::sort(expected.begin(), expected.end());
  bool reached_the_end = false;
  for (std::uint64_t k = 1; k < 64 && !reached_the_end; ++k) {
    CAPTURE(k);
    auto ctx = shard::context::host(g, test::gpu_like());
    shard::vector<int> v(ctx, source);
    shard::testing::inject_device_fault(ctx, bad, k);
    try {
      shard::sort(v);
      reached_the_end = true;  // shard 2 ran fewer than k primitives: no fault
      CHECK(v.to_host() == expected);
      continue;
    } catch (const shard::device_fault&) {
    }
    // A failed sort leaves every surviving segment holding its own elements.
    const auto survivors = ctx.survivors();
    auto [w, lost] = shard::salvage(v, survivors);
    REQUIRE(lost.size() == 1);
    for (const auto& r : lost)
      shard::copy(std::span<const int>(source.data() + r.first, r.size()), w, r.first);
    shard::sort(w);
    CHECK(w.to_host() == expected);
  }
  CHECK(reached_the_end);  // every primitive of shard 2 was made to fault once
}

TEST_CASE("failover: survivors keep the backend's options; several faults; every shard faulted is an error" *
          doctest::test_suite("failover")) {
  shard::host_options options;
  options.speed = {1.0, 0.5, 0.25, 1.0};
  options.memory_per_shard = 1 << 20;
  auto ctx = shard::context::host(4, options);
  shard::vector<double> v(ctx, 4000, 1.5);
  shard::testing::inject_device_fault(ctx, 0, 1);
  shard::testing::inject_device_fault(ctx, 2, 1);
  CHECK_THROWS_AS(shard::fill(v, 2.5), shard::device_fault);
  CHECK(ctx.faulted_shards() == std::vector<std::size_t>{0, 2});
  const auto survivors = ctx.survivors();
  REQUIRE(survivors.size() == 2);
  const auto [w, lost] = shard::salvage(v, survivors, shard::distribution::weighted({1, 3}));
  CHECK(w.segment_sizes() == std::vector<std::size_t>{1000, 3000});
  CHECK(lost == std::vector<shard::index_range>{{0, 1000}, {2000, 3000}});
  CHECK(shard::testing::bytes_in_use(survivors, 0) == 1000 * sizeof(double));
  CHECK(survivors.topology().shards[0].memory_bytes == (1u << 20));  // the capacity carried over
  // The fill ran on the surviving shards (1 and 3): their elements are 2.5.
  const auto host = w.to_host();
  CHECK(host[1000] == 2.5);
  CHECK(host[3999] == 2.5);
  CHECK(host[0] == 0.0);
  // salvage takes only a survivors context of the vector's own.
  auto other = shard::context::host(2);
  shard::vector<double> u(survivors, 10);
  CHECK_THROWS_WITH_AS(shard::salvage(u, other), doctest::Contains("survivors()"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::salvage(u, survivors), doctest::Contains("survivors()"), shard::invalid_argument);
  // No shard left.
  auto lone = shard::context::host(1);
  shard::vector<int> x(lone, 10, 1);
  shard::testing::inject_device_fault(lone, 0, 1);
  CHECK_THROWS_AS((void)shard::reduce(x), shard::device_fault);
  CHECK_THROWS_WITH_AS(lone.survivors(), doctest::Contains("every shard has faulted"), shard::error);
}

TEST_CASE("a copy of any vector onto any other context: more shards, fewer, other options, any layout" *
          doctest::test_suite("failover")) {
  const auto source = shuffled(30011, 3);
  auto small = shard::context::host(2, test::gpu_like());
  shard::vector<int> v(small, source, shard::distribution::weighted({1, 3}));
  for (std::size_t g : {1u, 3u, 8u}) {
    CAPTURE(g);
    auto big = shard::context::host(g, test::gpu_like());
    const shard::vector<int> w(big, v);  // even by default
    CHECK(w.get_context() == big);
    CHECK(w.segment_sizes() == shard::distribution::even().sizes(source.size(), g));
    CHECK(w.to_host() == source);
    const shard::vector<int> back(small, w, shard::distribution::explicit_sizes({30000, 11}));
    CHECK(back.to_host() == source);
    CHECK(back.segment_sizes() == std::vector<std::size_t>{30000, 11});
  }
  const shard::vector<int> same(small, v, shard::distribution::even());  // the same context: an exchange
  CHECK(same.to_host() == source);
  for (auto& ctx : test::contexts(3)) {  // the GPUs too, when there are
    const shard::vector<int> there(ctx, v);
    CHECK(there.to_host() == source);
  }
  CHECK_THROWS_AS(shard::copy(std::span<const int>(source.data(), 10), v, source.size() - 5), shard::invalid_argument);
}
