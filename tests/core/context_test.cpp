// context: creation on both backends, bad input, handle semantics, stats.
#include "../support/test_support.hpp"

#include <cstdlib>

TEST_CASE("context::host creates the requested number of emulated devices" * doctest::test_suite("context")) {
  for (std::size_t g : test::shard_counts) {
    auto ctx = shard::context::host(g);
    CHECK(ctx.size() == g);
    CHECK(ctx.kind() == shard::backend::host);
    for (std::size_t s = 0; s < g; ++s) {
      CHECK(ctx.device(s) == static_cast<int>(s));
      for (std::size_t t = 0; t < g; ++t) CHECK(ctx.peer_access(s, t));
    }
    CHECK_THROWS_AS(ctx.device(g), shard::invalid_argument);
  }
}

TEST_CASE("context::host rejects zero shards with a message naming the argument" * doctest::test_suite("context")) {
  CHECK_THROWS_WITH_AS(shard::context::host(0), doctest::Contains("number of shards"), shard::invalid_argument);
}

TEST_CASE("context copies share devices and counters; distinct contexts do not" * doctest::test_suite("context")) {
  auto a = shard::context::host(2);
  auto b = a;
  auto c = shard::context::host(2);
  CHECK(a == b);
  CHECK_FALSE(a == c);
  shard::vector<int> v(a, 10);
  CHECK(b.stats().total_launches() == 2);
  CHECK(c.stats().total_launches() == 0);
  b.reset_stats();
  CHECK(a.stats().total_launches() == 0);
  CHECK(a.stats().peak_bytes[0] == 5 * sizeof(int));  // the peak restarts at what is allocated
}

TEST_CASE("context::automatic honours SHARD_HOST_DEVICES without a GPU" * doctest::test_suite("context")) {
  if (test::gpu_count() > 0) {
    CHECK(shard::context::automatic().kind() == shard::backend::cuda);
    return;
  }
  ::setenv("SHARD_HOST_DEVICES", "3", 1);
  auto ctx = shard::context::automatic();
  CHECK(ctx.kind() == shard::backend::host);
  CHECK(ctx.size() == 3);
  ::setenv("SHARD_HOST_DEVICES", "three", 1);
  CHECK_THROWS_WITH_AS(shard::context::automatic(), doctest::Contains("SHARD_HOST_DEVICES"), shard::invalid_argument);
  ::setenv("SHARD_HOST_DEVICES", "0", 1);
  CHECK_THROWS_AS(shard::context::automatic(), shard::invalid_argument);
  ::unsetenv("SHARD_HOST_DEVICES");
  CHECK(shard::context::automatic().size() == shard::context::default_host_devices);
}

TEST_CASE("context::cuda reports a missing GPU, an empty list and bad ordinals" * doctest::test_suite("context")) {
  CHECK_THROWS_WITH_AS(shard::context::cuda(std::vector<int>{}), doctest::Contains("empty"), shard::invalid_argument);
  if (test::gpu_count() > 0) {
    CHECK_THROWS_WITH_AS(shard::context::cuda({test::gpu_count()}), doctest::Contains("out of range"),
                         shard::invalid_argument);
    CHECK_THROWS_AS(shard::context::cuda({-1}), shard::invalid_argument);
    return;
  }
  // No GPU here: cuda() must fail clearly, not crash, and leave no sticky error behind.
  CHECK_THROWS_AS(shard::context::cuda(), shard::error);
  try {
    shard::context::cuda();
  } catch (const shard::error& e) {
    MESSAGE("context::cuda() without a GPU: " << std::string(e.what()));
#if SHARD_HAS_CUDA
    CHECK(std::string(e.what()).find("no CUDA device") != std::string::npos);
#else
    CHECK(std::string(e.what()).find("compiled without CUDA") != std::string::npos);
#endif
  }
#if SHARD_HAS_CUDA
  CHECK_THROWS_WITH_AS(shard::context::cuda({0}), doctest::Contains("device ordinal 0"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::context::cuda({5}), doctest::Contains("out of range"), shard::invalid_argument);
  // Probing again gives the same clear answer (a missing driver is reported on every call,
  // so there is no error state to clear; a runtime error that can be cleared is).
  CHECK_THROWS_WITH_AS(shard::context::cuda(), doctest::Contains("no CUDA device"), shard::error);
#endif
  CHECK(shard::context::automatic().kind() == shard::backend::host);
}

TEST_CASE("stats print as a table that names every node" * doctest::test_suite("context")) {
  auto ctx = shard::context::host(2);
  shard::vector<int> v(ctx, 4);
  (void)v.to_host();
  std::ostringstream os;
  os << ctx.stats();
  CHECK(os.str().find("host syncs: 2") != std::string::npos);
  CHECK(os.str().find(" h") != std::string::npos);
  CHECK(ctx.stats().bytes_moved(0, shard::stats::host) == 2 * sizeof(int));
  CHECK(ctx.stats().bytes_to_host() == 4 * sizeof(int));
  // Algorithm calls are listed with their count and time.
  shard::fill(v, 3);
  shard::fill(v, 4);
  std::ostringstream timed;
  timed << ctx.stats();
  CHECK(timed.str().find("call shard::fill: 2 x, ") != std::string::npos);
}
