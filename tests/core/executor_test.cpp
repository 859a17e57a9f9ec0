// The threads that run the host backend's emulated devices (host_options::threads): a thread
// per device, or a pool that all devices share. Either way each queue runs in order, a wait
// for another device's event parks the queue instead of holding a thread (so a pool of one
// thread cannot deadlock on a chain of waits), and a hung device leaves the others running.
#include "../support/test_support.hpp"

#include <shard/testing.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace {
shard::host_options with_threads(std::size_t threads) {
  shard::host_options o;
  o.threads = threads;
  return o;
}

shard::host_backend::device& emulated(const shard::context& ctx, std::size_t s) {
  return static_cast<shard::host_backend::device&>(ctx.impl().dev(s));
}

/// The threads of this process, or 0 where /proc does not list them.
std::size_t process_threads() {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++n;
  return ec ? 0 : n;
}
}  // namespace

TEST_CASE("a chain of waits across devices runs in order on a pool of one thread and on a thread per device" *
          doctest::test_suite("executor")) {
  for (std::size_t threads : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
    CAPTURE(threads);
    auto ctx = shard::context::host(4, with_threads(threads));
    std::mutex m;
    std::string log;
    auto note = [&](char c) {
      std::lock_guard<std::mutex> lock(m);
      log += c;
    };
    // Device 3 waits for device 2, which waits for device 1, which waits for device 0, whose
    // first task is still running when the waits are queued: every wait finds its event not
    // reached, so each queue parks. With one thread, a wait that held it would never end.
    std::atomic<bool> release{false};
    emulated(ctx, 0).launch([&] {
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      note('a');
    });
    auto e0 = ctx.impl().dev(0).record();
    ctx.impl().dev(1).wait(e0);
    emulated(ctx, 1).launch([&] { note('b'); });
    auto e1 = ctx.impl().dev(1).record();
    ctx.impl().dev(2).wait_all({e1, e0});
    emulated(ctx, 2).launch([&] { note('c'); });
    auto e2 = ctx.impl().dev(2).record();
    ctx.impl().dev(3).wait(e2);
    emulated(ctx, 3).launch([&] { note('d'); });
    CHECK_FALSE(e2->reached());
    release = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (std::size_t s = 0; s < 4; ++s) REQUIRE(ctx.impl().dev(s).wait_until(deadline));
    CHECK(log == "abcd");
    CHECK(e2->reached());
  }
}

TEST_CASE("a hung device in a pool of one thread leaves the other devices running, then times out" *
          doctest::test_suite("executor")) {
  auto ctx = shard::context::host(3, with_threads(1));
  ctx.set_wait_timeout(std::chrono::milliseconds(200));
  {
    shard::vector<int> v(ctx, 3000, 1);
    shard::testing::hang_primitive(ctx, 1, 1);
    try {
      (void)shard::reduce(v);
      FAIL("the hung shard did not time out");
    } catch (const shard::timeout& e) {
      CHECK(e.shard() == 1);  // shard 0 finished on the only thread; shard 1 never did
    }
    CHECK_FALSE(ctx.usable());
  }
  CHECK(shard::testing::bytes_in_use(ctx, 0) + shard::testing::bytes_in_use(ctx, 1) +
            shard::testing::bytes_in_use(ctx, 2) ==
        0);
}

TEST_CASE("a reduce gives the same result on a pool as on a thread per device" * doctest::test_suite("executor")) {
  // Every algorithm suite also runs on a pool of two threads (SHARD_TEST_HOST_THREADS=2 in
  // the *_cuda_semantics runs); here the two executors side by side, 70 shards included
  // (where the default is a pool).
  const auto data = test::random_data<std::int64_t>(50000, 7);
  for (std::size_t g : {1, 5, 70}) {
    CAPTURE(g);
    auto by_default = shard::context::host(g, with_threads(0));
    auto pool = shard::context::host(g, with_threads(1 + g % 3));
    shard::vector<std::int64_t> a(by_default, data), b(pool, data);
    CHECK(shard::reduce(a) == shard::reduce(b));
    CHECK(a.to_host() == b.to_host());
  }
}

TEST_CASE("by default a device has a thread of its own up to 64 devices, and a pool beyond" *
          doctest::test_suite("executor")) {
  const std::size_t before = process_threads();
  if (before == 0) return;  // no /proc: nothing to count
  {
    auto ctx = shard::context::host(shard::host_options::threads_per_device_max);
    CHECK(process_threads() - before == shard::host_options::threads_per_device_max);
  }
  {
    auto ctx = shard::context::host(shard::host_options::threads_per_device_max + 1);
    const std::size_t pool = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    CHECK(process_threads() - before == std::min(pool, shard::host_options::threads_per_device_max + 1));
  }
  {
    auto ctx = shard::context::host(8, with_threads(3));
    CHECK(process_threads() - before == 3);
  }
}

TEST_CASE("while a step is queued, threads as many as the cores start its work when it is queued, or at a wait" *
          doctest::test_suite("executor")) {
  using queuing = shard::detail::deferred_wakeups::scope;
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  // As many devices and threads as cores: the queuing thread would compete for a core.
  auto ctx = shard::context::host(cores, with_threads(cores));
  const auto eventually = [](const std::atomic<bool>& flag) {  // without a wait on any device
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!flag.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return flag.load();
  };
  // Once they have started and run out of work, the threads sleep.
  emulated(ctx, 0).launch([] {});
  REQUIRE(ctx.impl().dev(0).wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::atomic<bool> first{false};
  {
    const queuing step;
    emulated(ctx, 0).launch([&] { first = true; });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK_FALSE(first.load());  // no thread was woken for it
  }
  CHECK(eventually(first));  // the end of the queuing woke them
  std::atomic<bool> second{false};
  {
    const queuing step;
    emulated(ctx, 0).launch([&] { second = true; });
    // A wait inside the queuing wakes the threads first: it never waits for its own deferral.
    CHECK(ctx.impl().dev(0).wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
    CHECK(second.load());
    std::atomic<bool> third{false};
    emulated(ctx, 1 % cores).launch([&] { third = true; });
    auto e = ctx.impl().dev(1 % cores).record();
    CHECK(shard::detail::poll_until([&] { return e->reached(); },
                                    std::chrono::steady_clock::now() + std::chrono::seconds(20)));
    CHECK(third.load());
  }
  if (cores >= 2) {
    // Fewer threads than cores: nothing is deferred.
    auto small = shard::context::host(1, with_threads(1));
    std::atomic<bool> ran{false};
    const queuing step;
    emulated(small, 0).launch([&] { ran = true; });
    CHECK(eventually(ran));
  }
}
