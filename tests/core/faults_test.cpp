// Faults a GPU can have that a plain failed call does not show: a sticky device fault (the
// device is unusable for the rest of the process) and work that never finishes (a hung
// kernel, a peer that died in the middle of a collective). Host backend: its hooks emulate
// both.
#include "../support/test_support.hpp"

#include <shard/testing.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

namespace {
std::size_t total_in_use(const shard::context& ctx) {
  std::size_t sum = 0;
  for (std::size_t s = 0; s < ctx.size(); ++s) sum += shard::testing::bytes_in_use(ctx, s);
  return sum;
}

/// Sets an environment variable for the scope, restoring the previous value.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};
}  // namespace

TEST_CASE("a device fault is sticky: it names the shard and device, and every later call on the context fails" *
          doctest::test_suite("faults")) {
  auto ctx = shard::context::host(4);
  auto healthy = shard::context::host(4);
  {
    shard::vector<int> v(ctx, 1000, 1);
    shard::vector<int> w(healthy, 1000, 1);
    shard::testing::inject_device_fault(ctx, 2, 1);
    try {
      (void)shard::reduce(v);
      FAIL("the fault did not reach the caller");
    } catch (const shard::device_fault& e) {
      CHECK(e.shard() == 2);
      CHECK(e.device() == 2);
      CHECK(std::string(e.what()).find("shard 2 (device 2)") != std::string::npos);
      CHECK(std::string(e.what()).find("unusable for the rest of the process") != std::string::npos);
    }
    // Unlike a failed launch, the fault stays: every call that touches shard 2 fails.
    for (int attempt = 0; attempt < 2; ++attempt) {
      CHECK_THROWS_AS(shard::fill(v, 3), shard::device_fault);
      CHECK_THROWS_AS((void)v.to_host(), shard::device_fault);
      CHECK_THROWS_AS(shard::vector<int>(ctx, 10), shard::device_fault);
      CHECK_THROWS_AS(ctx.synchronize(), shard::device_fault);
    }
    // Another context, on other devices, is not affected.
    CHECK(shard::reduce(w) == 1000);
    shard::fill(w, 2);
    CHECK(shard::reduce(w) == 2000);
  }
  // The vectors' destructors neither threw nor hung, and freed their memory on every shard.
  CHECK(total_in_use(ctx) == 0);
  CHECK(total_in_use(healthy) == 0);
}

TEST_CASE("a failed launch is not sticky: the next call works" * doctest::test_suite("faults")) {
  auto ctx = shard::context::host(3);
  shard::vector<int> v(ctx, 100, 1);
  shard::testing::fail_primitive(ctx, 1, 1);
  CHECK_THROWS_AS((void)shard::reduce(v), shard::error);
  CHECK_NOTHROW(ctx.synchronize());
  CHECK(shard::reduce(v) == 100);
}

TEST_CASE("a shard that never finishes gives shard::timeout; the context is then unusable and nothing leaks" *
          doctest::test_suite("faults")) {
  auto ctx = shard::context::host(3);
  ctx.set_wait_timeout(std::chrono::milliseconds(200));
  CHECK(ctx.wait_timeout() == std::chrono::milliseconds(200));
  // The abort runs on a thread of its own (it may block on a hung stream): count it in
  // memory that thread shares, not on this stack.
  auto aborted = std::make_shared<std::atomic<int>>(0);
  ctx.impl().set_collective_engine(std::make_shared<test::scripted_engine>([] {}, [aborted] { ++*aborted; }));
  {
    shard::vector<int> v(ctx, 3000, 1);
    shard::vector<int> w(ctx, 3000, 2);
    shard::testing::hang_primitive(ctx, 1, 1);
    const auto start = std::chrono::steady_clock::now();
    try {
      (void)shard::reduce(v);
      FAIL("the hung shard did not time out");
    } catch (const shard::timeout& e) {
      CHECK(e.shard() == 1);
      CHECK(e.device() == 1);
      CHECK(std::string(e.what()).find("wait timeout") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(150));
    CHECK_FALSE(ctx.usable());
    // The collective engine (NCCL's communicators on GPUs) was aborted; the context waited
    // for the abort up to its timeout, a slow thread start may take longer.
    for (int i = 0; i < 500 && *aborted == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(*aborted == 1);
    CHECK_THROWS_WITH_AS(shard::fill(w, 3), doctest::Contains("the context is unusable"), shard::error);
    CHECK_THROWS_WITH_AS((void)w.to_host(), doctest::Contains("did not finish"), shard::error);
    CHECK_THROWS_AS(shard::vector<int>(ctx, 10), shard::error);
    CHECK_THROWS_AS(ctx.synchronize(), shard::error);
  }
  // Destroying the vectors (and, at the end of the test, the context) neither throws nor
  // hangs, and gives every byte back.
  CHECK(total_in_use(ctx) == 0);
}

TEST_CASE("after a timeout no queue runs work that waited on work another queue dropped" *
          doctest::test_suite("faults")) {
  // Shard 0 hangs before an event that the main and copy queues of seven other shards wait
  // for, each then running a task that stands for a copy or a kernel reading shard 0's output.
  // Giving up abandons the shards one after another; shard 0's event is signalled as its queue
  // drops its work. A queue abandoned later must not take that for its input having arrived:
  // the abandonment stops every queue of the context at once.
  for (const std::size_t threads : {std::size_t{0}, std::size_t{2}}) {
    CAPTURE(threads);
    shard::host_options options;
    options.threads = threads;
    auto ctx = shard::context::host(8, options);
    ctx.set_wait_timeout(std::chrono::milliseconds(200));
    auto ran = std::make_shared<std::atomic<int>>(0);
    shard::testing::hang_primitive(ctx, 0, 1);
    shard::testing::detail_testing::emulated(ctx, 0, "hang").launch([] {});
    const auto e0 = ctx.impl().dev(0).record();
    for (std::size_t s = 1; s < 8; ++s) {
      auto& main = ctx.impl().dev(s);
      auto& side = main.copy_queue();
      for (auto* q : {&main, &side}) {
        q->wait(e0);
        static_cast<shard::host_backend::device&>(*q).launch([ran] { ++*ran; });
      }
    }
    CHECK_THROWS_AS(ctx.synchronize(), shard::timeout);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (std::size_t s = 0; s < 8; ++s) CHECK(ctx.impl().dev(s).wait_until(deadline));
    CHECK(e0->reached());
    CHECK(ran->load() == 0);
  }
}

TEST_CASE("the wait deadline comes from SHARD_WAIT_TIMEOUT and is checked" * doctest::test_suite("faults")) {
  {
    scoped_env env("SHARD_WAIT_TIMEOUT", "0.25");
    CHECK(shard::context::host(1).wait_timeout() == std::chrono::milliseconds(250));
  }
  {
    scoped_env env("SHARD_WAIT_TIMEOUT", "0");
    auto ctx = shard::context::host(2);
    CHECK(ctx.wait_timeout().count() == 0);  // no deadline
    shard::vector<int> v(ctx, 10, 1);
    CHECK(shard::reduce(v) == 10);
  }
  for (const char* bad : {"abc", "-1", "1e99", "5s"}) {
    CAPTURE(bad);
    scoped_env env("SHARD_WAIT_TIMEOUT", bad);
    CHECK_THROWS_WITH_AS(shard::context::host(1), doctest::Contains("SHARD_WAIT_TIMEOUT"), shard::invalid_argument);
  }
  auto ctx = shard::context::host(1);
  CHECK_THROWS_AS(ctx.set_wait_timeout(std::chrono::seconds(-1)), shard::invalid_argument);
}
