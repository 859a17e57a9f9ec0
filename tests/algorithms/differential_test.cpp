// Randomized differential test of the algorithm family against std:: (support/differential.hpp):
// a fixed list of seeds, or SHARD_DIFFERENTIAL_SEED (first seed) and SHARD_DIFFERENTIAL_RUNS
// (how many) for long runs. tests/fuzz/algorithms_fuzz.cpp drives the same harness.
#include "../support/differential.hpp"
#include "../support/test_support.hpp"

TEST_CASE("random sequences of algorithm calls agree with std::" * doctest::test_suite("differential")) {
  const auto first = test::list_from_environment("SHARD_DIFFERENTIAL_SEED", {1}).at(0);
  const auto runs = test::list_from_environment("SHARD_DIFFERENTIAL_RUNS", {300}).at(0);
  for (std::uint64_t seed = first; seed < first + runs; ++seed) {
    differential::source in(seed);
    std::string log;
    const auto outcome = differential::run(in, log, seed % 10 == 0 ? 100000 : 3000);
    CAPTURE(seed);
    CAPTURE(log);
    CHECK(outcome == "");
  }
}
