// SPMD contexts whose ranks are threads of this process (shard::thread_ranks): the algorithm
// suite against one process bit for bit, a sub-group beside the whole group, and the error
// cases (arguments that differ between ranks, a failure on one rank, a rank that stops
// answering). The same paths as MPI ranks, under ASan and TSan.
#include "../support/test_support.hpp"
#include "suite.hpp"

#include <shard/failover.hpp>
#include <shard/testing.hpp>
#include <shard/thread_ranks.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

namespace {

/// Runs the suite with counts[r] host shards on rank r; returns every rank's failures.
std::vector<std::string> suite_on(const std::vector<std::size_t>& counts, std::size_t* checks = nullptr) {
  shard::thread_ranks world(static_cast<int>(counts.size()));
  std::mutex mutex;
  std::vector<std::string> failures;
  world.run([&](int r) {
    const auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(counts[r], test::gpu_like()));
    const auto report = spmd_test::run_suite(ctx);
    std::lock_guard<std::mutex> lock(mutex);
    failures.insert(failures.end(), report.failures.begin(), report.failures.end());
    if (checks != nullptr) *checks += report.checks;
  });
  return failures;
}

std::string first_of(const std::vector<std::string>& failures) {
  std::string text;
  for (std::size_t i = 0; i < failures.size() && i < 10; ++i) text += failures[i] + "\n";
  return text;
}

}  // namespace

TEST_CASE("SPMD: every algorithm on ranks as threads gives one process's results, bit for bit" *
          doctest::test_suite("spmd")) {
  const std::vector<std::vector<std::size_t>> layouts = {{1}, {2}, {1, 1}, {2, 2}, {1, 1, 1}, {1, 2, 3}, {2, 1, 1, 2}};
  for (const auto& counts : layouts) {
    std::string name;
    for (auto c : counts) name += std::to_string(c) + " ";
    CAPTURE(name);
    std::size_t checks = 0;
    const auto failures = suite_on(counts, &checks);
    CHECK_MESSAGE(failures.empty(), first_of(failures));
    CHECK(checks > 0);
  }
}

TEST_CASE("SPMD: the context knows its ranks, their shards and their hosts" * doctest::test_suite("spmd")) {
  shard::thread_ranks world(3, {"node-a", "node-a", "node-b"});
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(static_cast<std::size_t>(r) + 1));
    // Shards rank by rank: rank 0 has 1, rank 1 has 2, rank 2 has 3.
    if (ctx.size() != 6 || ctx.rank() != r || ctx.ranks() != 3) throw std::runtime_error("sizes");
    const std::vector<int> owner{0, 1, 1, 2, 2, 2};
    for (std::size_t s = 0; s < 6; ++s) {
      if (ctx.rank_of(s) != owner[s]) throw std::runtime_error("rank_of");
      if (ctx.is_local(s) != (owner[s] == r)) throw std::runtime_error("is_local");
      if (ctx.topology().shards[s].rank != owner[s]) throw std::runtime_error("topology rank");
    }
    const auto& t = ctx.topology();
    if (t.shards[0].host != "node-a" || t.shards[5].host != "node-b") throw std::runtime_error("hosts");
    if (std::string(t.link(0, 1).route()) != "rank" || std::string(t.link(0, 5).route()) != "network")
      throw std::runtime_error("routes");
    if (ctx.local_shards().size() != static_cast<std::size_t>(r) + 1) throw std::runtime_error("local shards");
    std::ostringstream printed;
    printed << t;
    if (printed.str().find("node-b") == std::string::npos) throw std::runtime_error("printed topology");
    shard::vector<int> v(ctx, 60);
    if (v.segment(r == 0 ? 0 : 3).size != 10) throw std::runtime_error("segments");
    // Bytes between ranks and between machines: everything onto shard 2 (rank 1, node-a).
    // Shard 0 (rank 0, node-a) sends across ranks, shard 1 within rank 1, shards 3-5 (rank 2,
    // node-b) across ranks and machines: 10 elements each.
    ctx.reset_stats();
    shard::vector<int> moved(v, shard::distribution::explicit_sizes({0, 0, 60, 0, 0, 0}));
    const auto st = ctx.global_stats();
    if (st.bytes_between_shards() != 50 * sizeof(int)) throw std::runtime_error("bytes between shards");
    if (st.bytes_across(t.links) != 40 * sizeof(int)) throw std::runtime_error("bytes across ranks");
    if (st.bytes_across(t.links, true) != 30 * sizeof(int)) throw std::runtime_error("bytes across nodes");
    if ((v.segment(0).data != nullptr) != (r == 0)) throw std::runtime_error("data only where local");
  });
}

TEST_CASE("SPMD: two sub-groups and the whole group at once, independently" * doctest::test_suite("spmd")) {
  shard::thread_ranks whole(4), left(2), right(2);
  std::atomic<int> wrong{0};
  whole.run([&](int r) {
    const auto all = shard::context::spmd(whole.communicator(r), shard::context::host(1));
    const auto half = shard::context::spmd((r < 2 ? left : right).communicator(r % 2), shard::context::host(2));
    const int group = r / 2;
    std::vector<int> data(1000), common(3000);
    std::iota(data.begin(), data.end(), group * 1000);
    std::iota(common.begin(), common.end(), 0);
    shard::vector<int> a(all, common), h(half, data);
    shard::sort(h, shard::greater<>{});  // each group sorts its own data, the whole group reduces
    if (h.get(0) != group * 1000 + 999) ++wrong;
    if (shard::reduce(a) != std::accumulate(common.begin(), common.end(), 0)) ++wrong;
    if (shard::reduce(h) != std::accumulate(data.begin(), data.end(), 0)) ++wrong;
    if (a.size() != 3000 || all.size() != 4 || half.size() != 4) ++wrong;
  });
  CHECK(wrong == 0);
}

TEST_CASE("SPMD: arguments that differ between ranks throw invalid_argument on every rank" *
          doctest::test_suite("spmd")) {
  shard::thread_ranks world(2);
  std::atomic<int> caught{0};
  std::mutex mutex;
  std::string message;
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(2));
    ctx.set_wait_timeout(std::chrono::seconds(20));
    try {
      shard::vector<int> v(ctx, r == 0 ? 100 : 200);
      shard::sort(v);
    } catch (const shard::invalid_argument& e) {
      ++caught;
      std::lock_guard<std::mutex> lock(mutex);
      message = e.what();
    }
    // The context still works afterwards.
    shard::vector<int> w(ctx, 10, 1);
    if (shard::reduce(w) != 10) throw std::runtime_error("after the mismatch");
  });
  CHECK(caught == 2);
  CHECK(message.find("differ") != std::string::npos);
}

TEST_CASE("SPMD: vectors of different contexts on one rank throw invalid_argument on every rank" *
          doctest::test_suite("spmd")) {
  shard::thread_ranks world(2), other(2);
  std::atomic<int> caught{0};
  std::mutex mutex;
  std::vector<std::string> messages;
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(2));
    ctx.set_wait_timeout(std::chrono::seconds(20));
    auto second = shard::context::spmd(other.communicator(r), shard::context::host(1));
    second.set_wait_timeout(std::chrono::seconds(20));
    const std::vector<int> data(1000, 3);
    shard::vector<int> a(ctx, std::span<const int>(data)), b(ctx, 1000), elsewhere(second, 1000);
    try {
      // Rank 1 passes a destination of another context; rank 0 is called correctly.
      shard::copy(a, r == 0 ? b : elsewhere);
    } catch (const shard::invalid_argument& e) {
      ++caught;
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(e.what());
    }
    // The context still works afterwards.
    if (shard::reduce(a) != 3000) throw std::runtime_error("after the mismatch");
  });
  CHECK(caught == 2);
  REQUIRE(messages.size() == 2);
  for (const auto& m : messages) CHECK(m.find("different contexts") != std::string::npos);
}

TEST_CASE("SPMD: a failure on one rank throws on every rank, inputs intact" * doctest::test_suite("spmd")) {
  for (int faulty = 0; faulty < 3; ++faulty) {
    CAPTURE(faulty);
    shard::thread_ranks world(3);
    std::atomic<int> caught{0}, intact{0};
    world.run([&](int r) {
      const auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(2));
      std::vector<int> data(5000);
      std::iota(data.rbegin(), data.rend(), 0);
      shard::vector<int> v(ctx, data), out(ctx, 0);
      if (r == faulty) shard::testing::fail_primitive(ctx, ctx.local_shards()[1], 1);
      try {
        (void)shard::copy_if(v, out, spmd_test::is_even{});
      } catch (const shard::error&) {
        ++caught;
      }
      if (v.to_host() == data) ++intact;
      // The next calls work on every rank.
      shard::sort(v);
      if (v.get(0) != 0) throw std::runtime_error("sort after a failure");
    });
    CHECK(caught == 3);
    CHECK(intact == 3);
  }
}

TEST_CASE("SPMD: running out of memory on one rank throws on every rank" * doctest::test_suite("spmd")) {
  shard::thread_ranks world(2);
  std::atomic<int> caught{0};
  world.run([&](int r) {
    shard::host_options small;
    small.memory_per_shard = r == 1 ? 4096 : 0;
    const auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(1, small));
    try {
      shard::vector<int> v(ctx, 100000, 3);
      (void)shard::reduce(v);
    } catch (const shard::error&) {
      ++caught;
    }
    shard::vector<int> fits(ctx, 100, 2);
    if (shard::reduce(fits) != 200) throw std::runtime_error("after out of memory");
  });
  CHECK(caught == 2);
}

TEST_CASE("SPMD: a sort whose scratch will not fit on one rank fails on every rank before anything moves" *
          doctest::test_suite("spmd")) {
  shard::thread_ranks world(2);
  std::atomic<int> short_here{0}, told{0}, intact{0};
  world.run([&](int r) {
    shard::host_options small;
    small.memory_per_shard = r == 1 ? 10000 : 0;
    const auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(1, small));
    std::vector<int> host(3000);
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<int>((i * 7919) % 3001);
    shard::vector<int> v(ctx, host);  // 1500 ints (6000 bytes) per rank
    try {
      shard::sort(v);
    } catch (const shard::out_of_memory& e) {
      if (e.shard() == 1 && e.requested() == 12000 && e.free_bytes() == 4000) ++short_here;
    } catch (const shard::error& e) {
      if (std::string(e.what()).find("rank 1 failed") != std::string::npos) ++told;
    }
    if (v.to_host() == host) ++intact;
  });
  CHECK(short_here == 1);
  CHECK(told == 1);
  CHECK(intact == 2);
}

TEST_CASE("SPMD failover: a shard of one rank faults mid-sort; every rank carries on over the survivors, "
          "a rank left with no shard included" * doctest::test_suite("spmd")) {
  // {2, 2}: rank 1 keeps one shard; {1, 1, 1}: rank 1 keeps none.
  for (const auto& counts : std::vector<std::vector<std::size_t>>{{2, 2}, {1, 1, 1}}) {
    CAPTURE(counts.size());
    for (const std::uint64_t k : {1u, 3u}) {  // the local sort, or a later primitive of the sort
      CAPTURE(k);
      shard::thread_ranks world(static_cast<int>(counts.size()));
      std::mutex mutex;
      std::vector<std::string> failures;
      world.run([&](int r) {
        spmd_test::report rep;
        rep.rank = r;
        const auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(counts[r], test::gpu_like()));
        std::vector<int> source(30011);
        for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<int>((i * 7919) % 30011);
        auto sorted = source;
        std::sort(sorted.begin(), sorted.end());
        shard::vector<int> v(ctx, source);
        const std::size_t bad = counts[0];  // rank 1's first shard
        if (r == 1) shard::testing::inject_device_fault(ctx, 0 + ctx.local_shards()[0], k);
        bool threw = false;
        try {
          shard::sort(v);
        } catch (const shard::error&) {
          threw = true;
        }
        rep.check(threw, "the sort failed on every rank");
        rep.check(ctx.faulted_shards() == std::vector<std::size_t>{bad}, "every rank knows the faulted shard");
        const auto survivors = ctx.survivors();
        rep.check(survivors.size() == ctx.size() - 1, "the survivors");
        rep.check(survivors.local_shards().size() == counts[r] - (r == 1 ? 1 : 0), "this rank's survivors");
        auto [w, lost] = shard::salvage(v, survivors);
        rep.check(lost.size() == 1 && lost[0].first == v.size() * 0 + shard::distribution::even().sizes(source.size(), ctx.size())[0] * bad,
                  "the lost range");
        for (const auto& range : lost)
          shard::copy(std::span<const int>(source.data() + range.first, range.size()), w, range.first);
        shard::sort(w);
        rep.check(w.to_host() == sorted, "the sort finished on the survivors");
        // The whole suite on the survivors (a rank without shards takes part in every call).
        const auto suite = spmd_test::run_suite(survivors);
        std::lock_guard<std::mutex> lock(mutex);
        failures.insert(failures.end(), rep.failures.begin(), rep.failures.end());
        failures.insert(failures.end(), suite.failures.begin(), suite.failures.end());
      });
      CHECK_MESSAGE(failures.empty(), first_of(failures));
    }
  }
}

TEST_CASE("SPMD: a rank that stops answering ends in shard::timeout on the others, bounded" *
          doctest::test_suite("spmd")) {
  shard::thread_ranks world(3);
  std::atomic<int> timeouts{0};
  const auto start = std::chrono::steady_clock::now();
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(1));
    ctx.set_wait_timeout(std::chrono::milliseconds(300));
    shard::vector<float> v(ctx, 1000, 1.0f);
    if (r == 2) return;  // stops answering: never makes the next call
    try {
      (void)shard::reduce(v);
    } catch (const shard::timeout&) {
      ++timeouts;
    }
    if (ctx.usable()) throw std::runtime_error("usable after a timeout");
  });
  CHECK(timeouts == 2);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}
