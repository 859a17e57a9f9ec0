// Whole-vector transfers between the host and the shards. On a GPU a copy from pageable host
// memory blocks the calling thread, so shard streams such transfers through each shard's
// pinned chunks; the host backend's require_pinned_host_memory mode imposes the same rule
// (a pageable copy is an error) and so runs that path here.
#include "../support/test_support.hpp"

#include <shard/testing.hpp>
#include <shard/transport/host.hpp>

#include <numeric>

namespace {
shard::host_options pinned_only() {
  shard::host_options o;
  o.require_pinned_host_memory = true;
  return o;
}
}  // namespace

TEST_CASE("host transfers: a device that needs pinned memory rejects pageable memory" *
          doctest::test_suite("transport")) {
  auto ctx = shard::context::host(2, pinned_only());
  auto& impl = ctx.impl();
  shard::detail::device_buffer<int> buf(impl, 0, 16);
  std::vector<int> pageable(16, 1);
  CHECK_THROWS_WITH_AS(impl.dev(0).copy_from_host(buf.data(), pageable.data(), 64), doctest::Contains("not pinned"),
                       shard::invalid_argument);
  CHECK_THROWS_WITH_AS(impl.dev(0).copy_to_host(pageable.data(), buf.data(), 64), doctest::Contains("not pinned"),
                       shard::invalid_argument);
  void* pinned = impl.dev(1).allocate_host(64);  // portable: any shard may use it
  CHECK(impl.dev(0).is_pinned(pinned));
  CHECK_FALSE(impl.dev(0).is_pinned(pageable.data()));
  CHECK_NOTHROW(impl.dev(0).copy_to_host(pinned, buf.data(), 64));
  impl.dev(0).synchronize();
  impl.dev(1).deallocate_host(pinned, 64);
}

TEST_CASE("host transfers: vectors go to and from any host memory, in every size class, on every shard count" *
          doctest::test_suite("transport")) {
  // Sizes per shard: tiny (pinned slots), a few chunks plus a tail (streamed), and zero.
  const std::size_t chunk = shard::detail::staging_pool::chunk_bytes / sizeof(std::uint64_t);
  for (std::size_t g : test::shard_counts) {
    for (bool pinned : {true, false}) {
      auto ctx = pinned ? shard::context::host(g, pinned_only()) : shard::context::host(g);
      for (std::size_t n : {std::size_t{0}, std::size_t{1}, g * 3 + 1, g * (2 * chunk + 123), 9 * chunk + 7}) {
        CAPTURE(g);
        CAPTURE(pinned);
        CAPTURE(n);
        std::vector<std::uint64_t> host(n);
        std::iota(host.begin(), host.end(), std::uint64_t{1} << 40);
        ctx.reset_stats();
        shard::vector<std::uint64_t> v(ctx, host, shard::distribution::weighted(std::vector<double>(g, 1.0)));
        auto st = ctx.stats();
        CHECK(st.bytes_from_host() == n * sizeof(std::uint64_t));
        CHECK(st.host_syncs == 1);
        ctx.reset_stats();
        CHECK(v.to_host() == host);
        st = ctx.stats();
        CHECK(st.bytes_to_host() == n * sizeof(std::uint64_t));
        CHECK(st.host_syncs == 1);
        std::vector<std::uint64_t> back(n, 0);
        shard::copy(v, std::span<std::uint64_t>(back));
        CHECK(back == host);
        std::reverse(back.begin(), back.end());
        shard::copy(std::span<const std::uint64_t>(back), v);
        CHECK(v.to_host() == back);
        if (n > 0) {
          CHECK(v.get(n - 1) == back[n - 1]);
          v.set(n / 2, 7);
          CHECK(v.get(n / 2) == 7);
        }
      }
    }
  }
}

TEST_CASE("host transfers: a device fault while streaming reaches the caller from the shard's thread" *
          doctest::test_suite("transport")) {
  auto ctx = shard::context::host(3, pinned_only());
  const std::size_t n = 3 * 3 * shard::detail::staging_pool::chunk_bytes / sizeof(int);
  std::vector<int> host(n, 5);
  shard::vector<int> v(ctx, host);
  shard::testing::inject_device_fault(ctx, 1, 1);
  CHECK_THROWS_AS(shard::fill(v, 1), shard::device_fault);
  try {
    (void)v.to_host();
    FAIL("the fault did not reach the caller");
  } catch (const shard::device_fault& e) {
    CHECK(e.shard() == 1);
  }
  CHECK_THROWS_AS(shard::copy(std::span<const int>(host), v), shard::device_fault);
}
