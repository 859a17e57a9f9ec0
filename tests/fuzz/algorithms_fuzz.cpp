// libFuzzer target over the differential harness (support/differential.hpp): the fuzzer's
// bytes choose the shards, the vector and the calls; any difference from std:: aborts.
// Build: cmake --preset fuzz && cmake --build --preset fuzz; run: build/fuzz/tests/algorithms_fuzz.
#include "../support/differential.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  differential::source in(data, size);
  std::string log;
  const auto outcome = differential::run(in, log, 2000);
  if (!outcome.empty()) {
    std::fprintf(stderr, "difference: %s (%s)\n", outcome.c_str(), log.c_str());
    std::abort();
  }
  return 0;
}
