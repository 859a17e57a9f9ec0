// Stencils (shard::transform_window, shard::stencil): the windowed transform against a
// sequential computation for radius 0..3, every distribution (empty segments, segments
// shorter than the radius), both boundary modes; the halo's copies; time steps; refusals.
#include "../support/test_support.hpp"

#include <shard/stencil.hpp>
#include <shard/thread_ranks.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace {

/// A position-sensitive function of the window: sum of (2k + 7) * w[k], plus the index.
struct weighted_sum {
  int radius;
  SHARD_HOST_DEVICE std::int64_t operator()(const shard::window<std::int64_t>& w) const {
    std::int64_t sum = static_cast<std::int64_t>(w.index()) + 1000 * w.radius();
    for (int k = -radius; k <= radius; ++k) sum += (2 * k + 7) * w[k];
    return sum;
  }
};

/// The same, one element after another.
std::vector<std::int64_t> sequential(const std::vector<std::int64_t>& in, int r,
                                     const shard::boundary<std::int64_t>& edge) {
  const auto n = static_cast<std::int64_t>(in.size());
  std::vector<std::int64_t> out(in.size());
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t sum = i + 1000 * r;
    for (int k = -r; k <= r; ++k) {
      const std::int64_t g = i + k;
      std::int64_t x;
      if (g >= 0 && g < n) x = in[static_cast<std::size_t>(g)];
      else if (edge.type == shard::boundary<std::int64_t>::kind::periodic) x = in[static_cast<std::size_t>(((g % n) + n) % n)];
      else x = edge.value;
      sum += (2 * k + 7) * x;
    }
    out[static_cast<std::size_t>(i)] = sum;
  }
  return out;
}

/// The elements two places away on either side.
struct ends {
  SHARD_HOST_DEVICE int operator()(const shard::window<int>& w) const { return w[-2] + w[2]; }
};

/// 3-point average with a constant boundary: one step of a 1-D heat equation.
struct heat_step {
  SHARD_HOST_DEVICE double operator()(const shard::window<double>& w) const { return 0.25 * w[-1] + 0.5 * w[0] + 0.25 * w[1]; }
};

}  // namespace

TEST_CASE("transform_window equals a sequential computation for radius 0..3, every distribution, both boundaries" *
          doctest::test_suite("stencil")) {
  for (std::size_t g : test::shard_counts) {
    for (auto& ctx : test::contexts(g)) {
      for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, g + 1, std::size_t{29}, std::size_t{1000}}) {
        auto dists = test::distributions(n, g);
        // Segments shorter than the radius between longer ones: 1, 0, 2, 5, 1, ...
        std::vector<std::size_t> ragged(g, 0);
        for (std::size_t s = 0, left = n; s < g && left > 0; ++s) {
          const std::size_t k = s + 1 == g ? left : std::min(left, std::size_t{(s * 5 + 1) % 6});
          ragged[s] = k;
          left -= k;
        }
        dists.push_back(shard::distribution::explicit_sizes(ragged));
        std::mt19937_64 rng(test::seed_for(g, n, 0));
        std::vector<std::int64_t> data(n);
        for (auto& x : data) x = static_cast<std::int64_t>(rng() % 2001) - 1000;
        for (std::size_t di = 0; di < dists.size(); ++di) {
          for (int r = 0; r <= 3; ++r) {
            for (const auto& edge : {shard::boundary<std::int64_t>::constant(-77), shard::boundary<std::int64_t>::periodic()}) {
              CAPTURE(test::name(ctx.kind()));
              CAPTURE(g);
              CAPTURE(n);
              CAPTURE(di);
              CAPTURE(r);
              const bool periodic = edge.type == shard::boundary<std::int64_t>::kind::periodic;
              CAPTURE(periodic);
              const shard::vector<std::int64_t> in(ctx, data, dists[di]);
              shard::vector<std::int64_t> out(ctx, n, dists[di]);
              ctx.reset_stats();
              shard::transform_window(in, out, static_cast<std::size_t>(r), weighted_sum{r}, edge);
              const auto st = ctx.stats();
              CHECK(out.to_host() == sequential(data, r, edge));
              // One wait for the step, and one for the constant boundary (written when the
              // stencil is made) when a window reaches past an end.
              const bool past_an_end = !periodic && r != 0 && n != 0;
              CHECK(st.host_syncs == (past_an_end ? 2u : 1u));
              // The halo is exactly the elements the windows reach beyond their segments.
              std::uint64_t beyond = 0;
              std::size_t at = 0;
              for (auto k : in.segment_sizes()) {
                if (k != 0 && r != 0) {
                  for (int side = 0; side < 2; ++side)
                    for (int d = 1; d <= r; ++d) {
                      const auto i = side == 0 ? static_cast<std::int64_t>(at) - d : static_cast<std::int64_t>(at + k) - 1 + d;
                      const auto N = static_cast<std::int64_t>(n);
                      if (i < 0 || i >= N) {
                        if (!periodic) continue;
                      }
                      const auto src = static_cast<std::size_t>(((i % N) + N) % N);
                      const bool own = src >= at && src < at + k;
                      if (!own) beyond += sizeof(std::int64_t);
                    }
                }
                at += k;
              }
              CHECK(st.bytes_between_shards() == beyond);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("stencil: repeated steps of the 1-D heat equation equal a one-shard run; 2(G-1) copies per step" *
          doctest::test_suite("stencil")) {
  const std::size_t n = 4096, steps = 50;
  std::vector<double> initial(n, 0.0);
  for (std::size_t i = n / 3; i < n / 2; ++i) initial[i] = 100.0;
  std::vector<double> expected;
  {
    auto one = shard::context::host(1);
    shard::vector<double> a(one, initial), b(one, n);
    const shard::stencil<double> st(a, 1, shard::boundary<double>::constant(0.0));
    for (std::size_t k = 0; k < steps; ++k) {
      st.apply(a, b, heat_step{});
      std::swap(a, b);
    }
    expected = a.to_host();
  }
  for (std::size_t g : test::shard_counts) {
    for (auto& ctx : test::contexts(g)) {
      CAPTURE(g);
      shard::vector<double> a(ctx, initial), b(ctx, n);
      const shard::stencil<double> st(a, 1, shard::boundary<double>::constant(0.0));
      ctx.reset_stats();
      for (std::size_t k = 0; k < steps; ++k) {
        st.apply(a, b, heat_step{});
        std::swap(a, b);
      }
      CHECK(a.to_host() == expected);  // bit for bit: every element's sum is the same three terms
      const auto s = ctx.stats();
      CHECK(s.bytes_between_shards() == steps * 2 * (g - 1) * sizeof(double));
      CHECK(s.host_syncs == steps + 1);  // one per step, and to_host
    }
  }
}

TEST_CASE("stencil refuses vectors of another layout or context, and a step in place" * doctest::test_suite("stencil")) {
  auto ctx = shard::context::host(3), other = shard::context::host(3);
  shard::vector<int> a(ctx, 30, 1), b(ctx, 30, 0), c(ctx, 30, 0, shard::distribution::explicit_sizes({10, 5, 15})),
      d(other, 30, 0);
  const shard::stencil<int> st(a, 2);
  const ends f;
  CHECK_THROWS_WITH_AS(st.apply(a, c, f), doctest::Contains("not laid out as the stencil"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(st.apply(a, d, f), doctest::Contains("another context"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(st.apply(a, a, f), doctest::Contains("share memory"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::transform_window(a, a, 1, f), doctest::Contains("the same vector"),
                       shard::invalid_argument);
  // Different layouts in transform_window: the input is moved into the output's layout.
  shard::transform_window(a, c, 2, f);
  CHECK(c.to_host() == std::vector<int>{1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                        2, 2, 2, 2, 2, 2, 2, 2, 1, 1});
}

TEST_CASE("stencil on ranks: halos cross ranks, the result equals one process's" * doctest::test_suite("stencil")) {
  const std::size_t n = 103;
  std::vector<std::int64_t> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::int64_t>((i * 7919) % 211) - 100;
  const auto edge = shard::boundary<std::int64_t>::periodic();
  const auto expected = sequential(data, 3, edge);
  shard::thread_ranks world(3);
  std::atomic<int> right{0};
  world.run([&](int r) {
    auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(r == 1 ? 2 : 1));
    const shard::vector<std::int64_t> in(ctx, data, shard::distribution::explicit_sizes({40, 2, 1, 60}));
    shard::vector<std::int64_t> out(ctx, n, shard::distribution::explicit_sizes({40, 2, 1, 60}));
    shard::transform_window(in, out, 3, weighted_sum{3}, edge);
    if (out.to_host() == expected) ++right;
  });
  CHECK(right.load() == 3);
}

TEST_CASE("stencil: the interiors run beside the halo copies, and the copies beside the interiors" *
          doctest::test_suite("stencil")) {
  // Two stalls, each on shard 1 of three, each ending in shard::timeout; what the other
  // shards wrote before it shows what ran beside what.
  // - Shard 1 is stalled before the step (a kernel that never ends, queued without a wait):
  //   no halo copy from it can start, yet shards 0 and 2 compute their interiors, since the
  //   copies wait on the shards' copy queues. On one queue per shard the interiors would wait
  //   behind the pulls from shard 1 and never run.
  // - Shard 1's interior never ends: its first and last elements still reach shards 0 and 2
  //   (its copy queue waits only for what was queued before the step), which compute their
  //   edges.
  const std::size_t n = 300, r = 2;
  std::vector<std::int64_t> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::int64_t>((i * 37) % 101) - 50;
  const auto edge = shard::boundary<std::int64_t>::constant(-77);
  const auto expected = sequential(data, static_cast<int>(r), edge);
  for (const std::size_t threads : {std::size_t{0}, std::size_t{2}}) {
    for (const int variant : {0, 1, 2}) {
      const bool before = variant != 1, peer = variant != 2;  // 2: the staged route, stalled before
      CAPTURE(threads);
      CAPTURE(variant);
      shard::host_options options;
      options.threads = threads;  // a thread per queue, or a pool of two for all six queues
      options.peer_access = peer;
      auto ctx = shard::context::host(3, options);
      ctx.set_wait_timeout(std::chrono::seconds(2));
      const shard::vector<std::int64_t> in(ctx, data);
      shard::vector<std::int64_t> out(ctx, n, 0);
      const shard::stencil<std::int64_t> st(in, r, edge);
      shard::testing::hang_primitive(ctx, 1, 1);  // shard 1's next primitive
      if (before) shard::testing::detail_testing::emulated(ctx, 1, "stall").launch([] {});
      CHECK_THROWS_AS(st.apply(in, out, weighted_sum{static_cast<int>(r)}), shard::timeout);
      // The emulated devices' memory is host memory: read what was written where it was.
      const auto left = out.segment(0), right = out.segment(2);
      REQUIRE(left.size == 100);
      REQUIRE(right.size == 100);
      if (before) {
        for (const auto& seg : {left, right})
          for (std::size_t k = r; k < seg.size - r; ++k) CHECK(seg.data[k] == expected[seg.offset + k]);
      } else {
        for (std::size_t k = 0; k < r; ++k) {
          CHECK(left.data[left.size - 1 - k] == expected[left.offset + left.size - 1 - k]);  // shard 1's first
          CHECK(right.data[k] == expected[right.offset + k]);                              // shard 1's last
        }
      }
    }
  }
}
