// quickstart: the main job. Puts tens of millions of elements on every shard of
// context::automatic() (all GPUs, or emulated devices on the host), runs transform, reduce,
// count_if and min/max_element, checks each against the same computation on the host with
// std::, and prints its time, throughput and communication stats.
//
//   quickstart [elements]        (default 32M; SHARD_HOST_DEVICES sets the emulated shards)
#include <shard/shard.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {
struct timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

// `st`: the stats of the timed call alone, taken before the check copies results back.
bool report(const char* name, bool ok, double seconds, double bytes, const shard::stats& st) {
  std::printf("%-14s %-4s %9.3f ms %9.2f GB/s   between shards %llu B, to host %llu B, host syncs %llu, launches %llu\n",
              name, ok ? "ok" : "FAIL", seconds * 1e3, bytes / seconds / 1e9,
              static_cast<unsigned long long>(st.bytes_between_shards()),
              static_cast<unsigned long long>(st.bytes_to_host()), static_cast<unsigned long long>(st.host_syncs),
              static_cast<unsigned long long>(st.total_launches()));
  return ok;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const std::size_t n = argc > 1 ? std::stoull(argv[1]) : std::size_t{32} << 20;
    shard::context ctx = shard::context::automatic();
    std::printf("shard quickstart: %zu elements on %zu shard(s) of the %s backend%s\n", n, ctx.size(),
                ctx.kind() == shard::backend::cuda ? "CUDA" : "host",
                ctx.kind() == shard::backend::cuda ? "" : " (emulated devices: no GPU in use)");
    for (std::size_t s = 0; s < ctx.size(); ++s) std::printf("  shard %zu -> device %d\n", s, ctx.device(s));

    std::vector<std::int32_t> host(n);
    std::mt19937 rng(2026);
    for (auto& x : host) x = static_cast<std::int32_t>(rng() % 2000001) - 1000000;

    shard::vector<std::int32_t> x(ctx, host);
    shard::vector<std::int32_t> y(ctx, n);
    bool ok = true;
    const double k = sizeof(std::int32_t);

    ctx.reset_stats();
    timer t1;
    shard::transform(x, y, [] SHARD_HOST_DEVICE(std::int32_t v) { return 3 * (v / 2) + 1; });
    const double s1 = t1.seconds();
    const auto st1 = ctx.stats();
    std::vector<std::int32_t> expected(n);
    std::transform(host.begin(), host.end(), expected.begin(), [](std::int32_t v) { return 3 * (v / 2) + 1; });
    ok &= report("transform", y.to_host() == expected, s1, 2 * k * n, st1);

    ctx.reset_stats();
    timer t2;
    const auto sum = shard::reduce(y, std::int64_t{0}, shard::plus<>{});
    const double s2 = t2.seconds();
    const auto st2 = ctx.stats();
    ok &= report("reduce", sum == std::accumulate(expected.begin(), expected.end(), std::int64_t{0}), s2, k * n, st2);

    ctx.reset_stats();
    timer t3;
    const auto positives = shard::count_if(y, [] SHARD_HOST_DEVICE(std::int32_t v) { return v > 0; });
    const double s3 = t3.seconds();
    const auto st3 = ctx.stats();
    ok &= report("count_if",
                 positives == static_cast<std::size_t>(std::count_if(expected.begin(), expected.end(),
                                                                      [](std::int32_t v) { return v > 0; })),
                 s3, k * n, st3);

    ctx.reset_stats();
    timer t4;
    const auto [imin, vmin] = shard::min_element(y);
    const double s4 = t4.seconds();
    const auto st4 = ctx.stats();
    const auto smin = std::min_element(expected.begin(), expected.end());
    ok &= report("min_element", n == 0 || (imin == std::size_t(smin - expected.begin()) && vmin == *smin), s4, k * n,
                 st4);

    ctx.reset_stats();
    timer t5;
    const auto [imax, vmax] = shard::max_element(y);
    const double s5 = t5.seconds();
    const auto st5 = ctx.stats();
    const auto smax = std::max_element(expected.begin(), expected.end());
    ok &= report("max_element", n == 0 || (imax == std::size_t(smax - expected.begin()) && vmax == *smax), s5, k * n,
                 st5);

    std::printf("sum %lld, %zu positive, min %d at %zu, max %d at %zu\n", static_cast<long long>(sum), positives, vmin,
                imin, vmax, imax);
    std::cout << "stats of the last algorithm (max_element):\n" << ctx.stats();
    std::printf("%s\n", ok ? "all results match std::" : "MISMATCH against std::");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 2;
  }
}
