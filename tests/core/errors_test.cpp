// Error paths: out of memory part-way through a multi-shard allocation, and a primitive that
// fails in the middle of an algorithm. Host backend (the hooks emulate what a GPU does).
#include "../support/test_support.hpp"

#include <shard/merge.hpp>
#include <shard/sort.hpp>

#include <shard/testing.hpp>

namespace {
void host_resized_check(const shard::vector<int>& v, std::vector<int> host) {
  host.resize(v.size());
  CHECK(v.to_host() == host);
}
std::size_t total_in_use(const shard::context& ctx) {
  std::size_t sum = 0;
  for (std::size_t s = 0; s < ctx.size(); ++s) sum += shard::testing::bytes_in_use(ctx, s);
  return sum;
}
}  // namespace

TEST_CASE("running out of memory on one shard leaks nothing and names the shard" * doctest::test_suite("errors")) {
  auto ctx = shard::context::host(4, {.memory_per_shard = 4000});
  try {
    shard::vector<int> v(ctx, 2300, shard::distribution::explicit_sizes({100, 100, 2000, 100}));
    FAIL("the allocation on shard 2 should have failed");
  } catch (const shard::out_of_memory& e) {
    CHECK(e.shard() == 2);
    CHECK(e.requested() == 8000);
    CHECK(e.free_bytes() == 4000);
    CHECK(std::string(e.what()).find("shard 2") != std::string::npos);
  }
  CHECK(total_in_use(ctx) == 0);
  CHECK(ctx.stats().peak_bytes[3] == 0);  // shard 3 was never reached
}

TEST_CASE("memory before work: a sort whose scratch will not fit fails before it changes or moves anything" *
          doctest::test_suite("errors")) {
  // Shard 1 holds 1500 ints (6000 bytes) of its 10000: the sort needs the received elements
  // (6000) and the merge's scratch (6000) at once, 12000 bytes, with 4000 free. Shards 0 and 2
  // need 4000 of their 8000 free.
  auto ctx = shard::context::host(3, {.memory_per_shard = 10000});
  std::vector<int> host(2500);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<int>((i * 7919) % 2503);
  shard::vector<int> v(ctx, host, shard::distribution::explicit_sizes({500, 1500, 500}));
  ctx.reset_stats();
  try {
    shard::sort(v);
    FAIL("the sort should not have fit");
  } catch (const shard::out_of_memory& e) {
    CHECK(e.shard() == 1);
    CHECK(e.device() == 1);
    CHECK(e.requested() == 12000);
    CHECK(e.free_bytes() == 4000);
    const std::string what = e.what();
    CHECK(what.find("shard::sort") != std::string::npos);
    CHECK(what.find("received elements") != std::string::npos);
  }
  CHECK(ctx.stats().total_launches() == 0);  // nothing ran: not even the local sorts
  CHECK(ctx.stats().bytes_between_shards() == 0);
  CHECK(v.to_host() == host);
  // sort_by_key: keys and values (12000 bytes on shard 1 of 16000) need 24000 more there.
  {
    auto pairs = shard::context::host(3, {.memory_per_shard = 16000});
    shard::vector<int> keys(pairs, host, shard::distribution::explicit_sizes({500, 1500, 500}));
    shard::vector<int> values(pairs, 2500, 1, keys.distribution());
    try {
      shard::sort_by_key(keys, values);
      FAIL("the sort_by_key should not have fit");
    } catch (const shard::out_of_memory& e) {
      CHECK(e.shard() == 1);
      CHECK(e.requested() == 24000);
      CHECK(e.free_bytes() == 4000);
      CHECK(std::string(e.what()).find("shard::sort_by_key") != std::string::npos);
    }
    CHECK(keys.to_host() == host);
  }
  // merge: the output's received elements and scratch on shard 1.
  {
    auto merging = shard::context::host(3, {.memory_per_shard = 12000});
    const shard::vector<int> a(merging, 1000, 1), b(merging, 1000, 2);
    shard::vector<int> out(merging, 2000, 0, shard::distribution::explicit_sizes({0, 2000, 0}));
    merging.reset_stats();
    CHECK_THROWS_WITH_AS(shard::merge(a, b, out), doctest::Contains("shard::merge"), shard::out_of_memory);
    CHECK(merging.stats().total_launches() == 0);
  }
  // With room enough the same sort runs.
  auto roomy = shard::context::host(3, {.memory_per_shard = 20000});
  shard::vector<int> w(roomy, host, shard::distribution::explicit_sizes({500, 1500, 500}));
  shard::sort(w);
  std::sort(host.begin(), host.end());
  CHECK(w.to_host() == host);
  CHECK(total_in_use(roomy) == 2500 * sizeof(int));  // the scratch held during the sort is back
}

TEST_CASE("memory before work: the emulated sort holds a GPU sort's scratch of the device's capacity" *
          doctest::test_suite("errors")) {
  // One shard: 1000 ints (4000 bytes) fit in 6000, but the radix sort's second buffer (4000
  // more) does not: the check refuses it, as a GPU's memory would run out.
  auto ctx = shard::context::host(1, {.memory_per_shard = 6000});
  shard::vector<int> v(ctx, 1000, 5);
  CHECK_THROWS_AS(shard::sort(v), shard::out_of_memory);
  CHECK(total_in_use(ctx) == 4000);
}

TEST_CASE("a resize that runs out of memory leaves the vector unchanged" * doctest::test_suite("errors")) {
  auto ctx = shard::context::host(4, {.memory_per_shard = 4000});
  const auto host = test::random_data<int>(1600, 3);
  shard::vector<int> v(ctx, host);  // 1600 bytes per shard
  CHECK_THROWS_AS(v.resize(4000), shard::out_of_memory);  // needs 4000 more per shard
  CHECK(v.size() == 1600);
  CHECK(v.to_host() == host);
  CHECK(total_in_use(ctx) == 1600 * sizeof(int));
  CHECK_THROWS_AS(shard::vector<int>(v, shard::distribution::explicit_sizes({0, 0, 1600, 0})), shard::out_of_memory);
  CHECK_THROWS_AS(v.redistribute(shard::distribution::weighted({0, 0, 1, 0})), shard::out_of_memory);
  CHECK(v.segment_sizes() == std::vector<std::size_t>(4, 400));
  CHECK(total_in_use(ctx) == 1600 * sizeof(int));
  v.resize(2000);  // fits: works after the failures
  host_resized_check(v, host);
}

TEST_CASE("an injected failure reaches the caller, stops no shard mid-way and leaves inputs intact" *
          doctest::test_suite("errors")) {
  for (std::size_t g : {2u, 4u, 7u}) {
    const std::size_t failing = g - 1;
    auto ctx = shard::context::host(g);
    const auto a_host = test::random_data<int>(10007, 11);
    const auto b_host = test::random_data<int>(10007, 12);
    shard::vector<int> a(ctx, a_host);
    shard::vector<int> b(ctx, b_host, shard::distribution::explicit_sizes([&] {
                           std::vector<std::size_t> s(g, 0);
                           s[0] = 10007;
                           return s;
                         }()));
    shard::vector<int> out(ctx, 10007);
    auto expect_failure = [&](auto&& algorithm, const char* name) {
      const std::string algorithm_name = name;
      CAPTURE(algorithm_name);
      CAPTURE(g);
      shard::testing::fail_primitive(ctx, failing, 1);
      try {
        algorithm();
        FAIL("the injected failure did not reach the caller");
      } catch (const shard::error& e) {
        CHECK(e.shard() == static_cast<int>(failing));
        CHECK(std::string(e.what()).find("injected") != std::string::npos);
      }
      CHECK(a.to_host() == a_host);  // the inputs are intact and the queues work again
      CHECK(b.to_host() == b_host);
      algorithm();  // the hook fires once: the same call now succeeds
    };
    // b is unaligned with out: transform first exchanges it through the transport, so the
    // failure happens after cross-shard copies that other shards wait on.
    expect_failure([&] { shard::transform(b, out, [] SHARD_HOST_DEVICE(int x) { return x + 1; }); }, "transform");
    expect_failure([&] { shard::transform(a, b, out, shard::plus<>{}); }, "binary transform");
    expect_failure([&] { (void)shard::reduce(a); }, "reduce");
    expect_failure([&] { (void)shard::reduce(a, 0, shard::maximum<>{}); }, "reduce with maximum");
    expect_failure([&] { (void)shard::count_if(a, [] SHARD_HOST_DEVICE(int x) { return x > 0; }); }, "count_if");
    expect_failure([&] { (void)shard::min_element(a); }, "min_element");
    expect_failure([&] { shard::fill(out, 7); }, "fill");
    expect_failure([&] { shard::for_each(out, [] SHARD_HOST_DEVICE(int& x) { x *= 2; }); }, "for_each");

    // A failure while resizing (the tail fill fails after the exchange) leaves the vector as
    // it was.
    shard::vector<int> c(ctx, a_host);
    shard::testing::fail_primitive(ctx, failing, 1);
    CHECK_THROWS_AS(c.resize(20000), shard::error);
    CHECK(c.to_host() == a_host);
    CHECK(total_in_use(ctx) == 4 * 10007 * sizeof(int));
  }
}

TEST_CASE("the k-th primitive fails, not the first" * doctest::test_suite("errors")) {
  auto ctx = shard::context::host(2);
  shard::vector<int> v(ctx, 10, 1);
  shard::testing::fail_primitive(ctx, 1, 3);
  shard::fill(v, 2);                                // primitive 1 on shard 1
  CHECK(shard::reduce(v) == 20);                    // primitive 2
  CHECK_THROWS_AS(shard::fill(v, 3), shard::error);  // primitive 3
  CHECK(shard::reduce(v) == 5 * 2 + 5 * 3);          // shard 0 ran, shard 1 skipped its fill
  CHECK_THROWS_AS(shard::testing::fail_primitive(ctx, 2, 1), shard::invalid_argument);
}

TEST_CASE("algorithms reject vectors of different contexts and sizes" * doctest::test_suite("errors")) {
  auto ctx = shard::context::host(2);
  auto other = shard::context::host(2);
  shard::vector<int> a(ctx, 10), b(ctx, 11), c(other, 10);
  auto inc = [] SHARD_HOST_DEVICE(int x) { return x + 1; };
  CHECK_THROWS_WITH_AS(shard::transform(a, b, inc), doctest::Contains("shard::transform"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::transform(a, c, inc), doctest::Contains("different contexts"), shard::invalid_argument);
  CHECK_THROWS_AS(shard::transform(a, b, a, shard::plus<>{}), shard::invalid_argument);
  CHECK_THROWS_AS(shard::transform(a, c, a, shard::plus<>{}), shard::invalid_argument);
  CHECK_THROWS_AS((void)shard::transform_reduce(a, b, 0, shard::plus<>{}, shard::plus<>{}), shard::invalid_argument);
  CHECK_THROWS_AS((void)shard::transform_reduce(a, c, 0, shard::plus<>{}, shard::plus<>{}), shard::invalid_argument);
}
