// A look inside: per-shard figures in stats (busy time and utilisation, bytes in use, bytes
// sent and received) and the trace (SHARD_TRACE=FILE, context::start_trace) in Chrome's
// trace-event JSON, whose durations agree with stats.
#include "../support/test_support.hpp"

#include <shard/sort.hpp>
#include <shard/thread_ranks.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

struct heavy {
  SHARD_HOST_DEVICE float operator()(float x) const {
    for (int k = 0; k < 64; ++k) x = x * 0.999f + 0.5f;
    return x;
  }
};

/// Total microseconds covered by [ts, ts + dur) intervals (overlaps once).
double covered(std::vector<std::pair<double, double>> spans) {
  std::sort(spans.begin(), spans.end());
  double total = 0, from = 0, to = -1;
  for (const auto& [b, e] : spans) {
    if (b <= to) {
      to = std::max(to, e);
      continue;
    }
    if (to >= from) total += to - from;
    from = b, to = e;
  }
  if (to >= from) total += to - from;
  return total;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("stats per shard: busy time, utilisation, bytes in use, sent and received" * doctest::test_suite("inside")) {
  for (auto& ctx : test::contexts(3)) {
    CAPTURE(test::name(ctx.kind()));
    shard::vector<float> v(ctx, 300000, 1.0f, shard::distribution::weighted({8, 1, 1}));
    shard::vector<float> w(ctx, 300000, 0.0f, v.distribution());
    ctx.reset_stats();
    CHECK(ctx.stats().wall_seconds == 0);
    for (int i = 0; i < 4; ++i) shard::transform(v, w, heavy{});
    auto st = ctx.stats();
    REQUIRE(st.busy_seconds.size() == 3);
    CHECK(st.wall_seconds > 0);
    for (std::size_t s = 0; s < 3; ++s) {
      CHECK(st.busy_seconds[s] > 0);
      CHECK(st.utilisation(s) <= 1.0 + 1e-6);
      CHECK(st.bytes_in_use[s] == v.segment_sizes()[s] * 2 * sizeof(float));
    }
    // Shard 0 holds 8 times the elements of the others: its busy time shows the imbalance
    // (with a wide margin: the emulated devices' threads share the machine's cores).
    CHECK(st.busy_seconds[0] > 1.5 * st.busy_seconds[1]);
    CHECK(st.busy_seconds[0] > 1.5 * st.busy_seconds[2]);
    // A sort moves elements between shards: each shard's sent and received bytes are its row's
    // and column's of the matrix, and both sum to the bytes between shards.
    std::vector<int> keys(30000);
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = static_cast<int>((i * 7919) % 30011);
    shard::vector<int> k(ctx, keys);
    ctx.reset_stats();
    shard::sort(k);
    st = ctx.stats();
    std::uint64_t sent = 0, received = 0;
    for (std::size_t s = 0; s < 3; ++s) {
      sent += st.bytes_sent(s);
      received += st.bytes_received(s);
      std::uint64_t row = 0;
      for (std::size_t d = 0; d < 3; ++d)
        if (d != s) row += st.bytes_moved(static_cast<int>(s), static_cast<int>(d));
      CHECK(st.bytes_sent(s) == row);
    }
    CHECK(sent == st.bytes_between_shards());
    CHECK(received == st.bytes_between_shards());
    CHECK(sent > 0);
    std::ostringstream printed;
    printed << st;
    CHECK(printed.str().find("util") != std::string::npos);
    ctx.reset_stats();
    CHECK(ctx.stats().busy_seconds == std::vector<double>(3, 0.0));
  }
}

TEST_CASE("an emulated device of speed k is 1/k times as slow: its busy time shows it" * doctest::test_suite("inside")) {
  shard::host_options options;
  options.speed = {1.0, 0.25};
  auto ctx = shard::context::host(2, options);
  shard::vector<float> v(ctx, 400000, 1.0f), w(ctx, 400000);
  ctx.reset_stats();
  for (int i = 0; i < 3; ++i) shard::transform(v, w, heavy{});
  const auto st = ctx.stats();
  // The slow shard's kernels take four times their CPU time; the fast one's at most twice
  // theirs (two threads on the cores): a ratio well above 1.5.
  CHECK(st.busy_seconds[1] > 1.5 * st.busy_seconds[0]);
  CHECK(w.to_host() == shard::vector<float>(ctx, 400000, heavy{}(1.0f)).to_host());
  options.speed = {1.0};
  CHECK_THROWS_WITH_AS(shard::context::host(2, options), doctest::Contains("one per shard"), shard::invalid_argument);
  options.speed = {1.0, 1.5};
  CHECK_THROWS_WITH_AS(shard::context::host(2, options), doctest::Contains("speed[1]"), shard::invalid_argument);
  options.speed = {0.0, 1.0};
  CHECK_THROWS_AS(shard::context::host(2, options), shard::invalid_argument);
}

TEST_CASE("the trace: JSON with every call and phase on the host's track and on every shard's, agreeing with stats" *
          doctest::test_suite("inside")) {
  for (auto& ctx : test::contexts(3)) {
    CAPTURE(test::name(ctx.kind()));
    CHECK(ctx.trace_json().empty());
    CHECK_THROWS_AS(ctx.write_trace("unused.json"), shard::error);
    ctx.start_trace();
    ctx.reset_stats();
    std::vector<int> keys(50000);
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = static_cast<int>((i * 7919) % 50021);
    shard::vector<int> k(ctx, keys);
    shard::sort(k);
    CHECK(shard::reduce(k) == std::accumulate(keys.begin(), keys.end(), 0));
    shard::transform(k, k, [] SHARD_HOST_DEVICE(int x) { return x + 1; });
    const auto st = ctx.stats();
    const auto trace = nlohmann::json::parse(ctx.trace_json());
    REQUIRE(trace.contains("traceEvents"));
    std::map<std::string, double> call_us;
    std::map<std::string, int> calls;
    int phases = 0, waits = 0;
    std::map<int, int> shard_calls, shard_phases;
    std::map<int, std::vector<std::pair<double, double>>> work;
    std::map<int, double> busy_in_calls;
    for (const auto& e : trace["traceEvents"]) {
      if (e["ph"] == "M") continue;
      REQUIRE(e["ph"] == "X");
      const std::string cat = e["cat"];
      const int tid = e["tid"];
      const double ts = e["ts"], dur = e["dur"];
      CHECK(dur >= 0);
      if (cat == "call") {
        CHECK(tid == 0);
        call_us[e["name"]] += dur;
        ++calls[e["name"]];
      } else if (cat == "phase") {
        ++phases;
      } else if (cat == "wait") {
        CHECK(tid == 1);
        ++waits;
      } else if (cat == "shard call") {
        ++shard_calls[tid];
        busy_in_calls[tid] += static_cast<double>(e["args"]["busy_ms"]) * 1e3;
      } else if (cat == "shard phase") {
        ++shard_phases[tid];
      } else {
        CHECK((cat == "primitive" || cat == "copy"));
        work[tid].emplace_back(ts, ts + dur);
      }
    }
    // The calls made after start_trace (the vector's construction is no call): their times
    // are stats'.
    CHECK(calls["shard::stable_sort"] == 1);
    CHECK(calls["shard::reduce"] == 1);
    CHECK(calls["shard::transform"] == 1);
    for (const auto& [name, us] : call_us) CHECK(us == doctest::Approx(st.call_seconds(name) * 1e6).epsilon(1e-3));
    int total_calls = 0;
    for (const auto& [name, n] : calls) total_calls += n;
    CHECK(phases == 3);  // the sort's
    CHECK(waits >= 3);
    for (std::size_t s = 0; s < 3; ++s) {
      const int tid = 100 + static_cast<int>(s);
      CHECK(shard_calls[tid] == total_calls);  // one event per call and shard
      CHECK(shard_phases[tid] == phases);      // and per phase and shard
      // The shard's work in the trace is its busy time in stats (to the printed microsecond).
      CHECK(covered(work[tid]) == doctest::Approx(st.busy_seconds[s] * 1e6).epsilon(0.01));
      CHECK(busy_in_calls[tid] <= covered(work[tid]) * 1.01 + 1);
    }
  }
}

TEST_CASE("SHARD_TRACE=FILE: the context writes its trace when it is destroyed; on ranks one file each" *
          doctest::test_suite("inside")) {
  const std::string path = "shard_trace_test_" + std::to_string(::getpid()) + ".json";
  std::remove(path.c_str());
  setenv("SHARD_TRACE", path.c_str(), 1);
  {
    auto ctx = shard::context::host(2);
    shard::vector<int> v(ctx, 1000, 1);
    CHECK(shard::reduce(v) == 1000);
  }
  {
    shard::thread_ranks world(2);
    world.run([&](int r) {
      auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(1));
      shard::vector<int> v(ctx, 1000, 2);
      if (shard::reduce(v) != 2000) throw std::runtime_error("reduce on ranks");
    });
  }
  unsetenv("SHARD_TRACE");
  const auto one = nlohmann::json::parse(read_file(path));
  int reduces = 0;
  for (const auto& e : one["traceEvents"])
    if (e["ph"] == "X" && e["cat"] == "call" && e["name"] == "shard::reduce") ++reduces;
  CHECK(reduces == 1);
  for (int r = 0; r < 2; ++r) {
    const std::string file = "shard_trace_test_" + std::to_string(::getpid()) + ".rank" + std::to_string(r) + ".json";
    const auto ranked = nlohmann::json::parse(read_file(file));
    int mine = 0;
    for (const auto& e : ranked["traceEvents"]) {
      CHECK(e["pid"] == r);
      if (e["ph"] == "X" && e["cat"] == "shard call") ++mine;
    }
    CHECK(mine == 1);  // the rank's one shard, in its one call
    std::remove(file.c_str());
  }
  std::remove(path.c_str());
}
