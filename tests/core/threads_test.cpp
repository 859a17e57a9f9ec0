// Several host threads calling algorithms on one context: the calls take turns
// (context_impl::exclusive), so every result is right. Runs under TSan in CI.
#include "../support/test_support.hpp"
#include <shard/scan.hpp>

#include <atomic>
#include <numeric>
#include <thread>

TEST_CASE("calls from several host threads on one context all give the right answers" *
          doctest::test_suite("threads")) {
  auto ctx = shard::context::host(2, test::gpu_like());
  constexpr int threads = 3;
  constexpr int rounds = 100;
  constexpr std::size_t n = 100000;
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        std::vector<std::int64_t> host(n);
        std::iota(host.begin(), host.end(), std::int64_t{t} * 1000);
        const std::int64_t want = std::accumulate(host.begin(), host.end(), std::int64_t{0});
        shard::vector<std::int64_t> v(ctx, host), scanned(ctx, n);
        for (int r = 0; r < rounds; ++r) {
          if (shard::reduce(v) != want) ++wrong;
          if (r % 10 == 0) {
            shard::inclusive_scan(v, scanned);
            if (scanned.get(n - 1) != want) ++wrong;
            if (v.to_host() != host) ++wrong;
          }
        }
      } catch (...) {
        ++failed;
      }
    });
  for (auto& th : pool) th.join();
  CHECK(wrong == 0);
  CHECK(failed == 0);
}
