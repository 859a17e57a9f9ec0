// shard::vector and shard::distribution: layout, element access, resize, copies, moves.
#include "../support/test_support.hpp"

#include <numeric>

TEST_CASE("distribution::even gives sizes that differ by at most one" * doctest::test_suite("distribution")) {
  for (std::size_t g : test::shard_counts)
    for (std::size_t n : test::sizes_for(g)) {
      const auto sizes = shard::distribution::even().sizes(n, g);
      CHECK(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}) == n);
      const auto [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
      CHECK(*hi - *lo <= 1);
      CHECK(std::is_sorted(sizes.rbegin(), sizes.rend()));  // larger segments first
    }
}

TEST_CASE("distribution::weighted is proportional and sums to n exactly" * doctest::test_suite("distribution")) {
  CHECK(shard::distribution::weighted({3, 1, 1, 1}).sizes(600, 4) == std::vector<std::size_t>{300, 100, 100, 100});
  CHECK(shard::distribution::weighted({1, 0, 1}).sizes(5, 3) == std::vector<std::size_t>{3, 0, 2});
  for (std::size_t n : {0u, 1u, 7u, 999u, 1000003u}) {
    const auto sizes = shard::distribution::weighted({0.1, 0.7, 0.2, 0, 1e-9}).sizes(n, 5);
    CHECK(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}) == n);
    CHECK(sizes[3] == 0);
    CHECK(sizes[1] >= sizes[2]);
  }
}

TEST_CASE("distributions reject input that does not fit, naming the problem" * doctest::test_suite("distribution")) {
  CHECK_THROWS_WITH_AS(shard::distribution::weighted({1, -1}), doctest::Contains("weight 1"), shard::invalid_argument);
  CHECK_THROWS_AS(shard::distribution::weighted({}), shard::invalid_argument);
  CHECK_THROWS_AS(shard::distribution::weighted({0, 0}), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::distribution::weighted({1, 1}).sizes(10, 3), doctest::Contains("2 weights for 3 shards"),
                       shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::distribution::explicit_sizes({1, 2}).sizes(4, 2), doctest::Contains("sum to 3"),
                       shard::invalid_argument);
  CHECK_THROWS_AS(shard::distribution::explicit_sizes({4}).sizes(4, 2), shard::invalid_argument);
  auto ctx = shard::context::host(3);
  CHECK_THROWS_WITH_AS(shard::vector<int>(ctx, 10, shard::distribution::explicit_sizes({3, 3, 3})),
                       doctest::Contains("not to the vector's size 10"), shard::invalid_argument);
}

TEST_CASE_TEMPLATE("vector constructors lay out and hold the right elements" * doctest::test_suite("vector"), T,
                   bool, std::int32_t, std::uint64_t, float, double, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const std::size_t g = ctx.size();
    const auto host = test::random_data<T>(n, seed);
    const auto expected_sizes = d.sizes(n, g);
    ctx.reset_stats();
    shard::vector<T> v(ctx, host, d);
    CHECK(ctx.stats().bytes_from_host() == n * sizeof(T));
    CHECK(ctx.stats().bytes_between_shards() == 0);
    CHECK(v.size() == n);
    CHECK(v.empty() == (n == 0));
    CHECK(v.num_segments() == g);
    CHECK(v.segment_sizes() == expected_sizes);
    std::size_t offset = 0;
    for (std::size_t s = 0; s < g; ++s) {
      const auto seg = v.segment(s);
      CHECK(seg.shard == s);
      CHECK(seg.offset == offset);
      CHECK(seg.size == expected_sizes[s]);
      CHECK((seg.size == 0 || seg.data != nullptr));
      offset += seg.size;
    }
    CHECK(v.to_host() == host);
    shard::vector<T> zeros(ctx, n, d);
    CHECK(zeros.to_host() == std::vector<T>(n, T{}));
    if (n > 0) {
      shard::vector<T> same(ctx, n, host[0], d);
      CHECK(same.to_host() == std::vector<T>(n, host[0]));
    }
  });
}

TEST_CASE("vector::get and set reach every element, across empty segments" * doctest::test_suite("vector")) {
  for (std::size_t g : test::shard_counts)
    for (auto& ctx : test::contexts(g)) {
      const std::size_t n = 2 * g + 1;
      for (const auto& d : test::distributions(n, g)) {
        shard::vector<int> v(ctx, n, d);
        for (std::size_t i = 0; i < n; ++i) v.set(i, static_cast<int>(i * 10));
        for (std::size_t i = 0; i < n; ++i) CHECK(v.get(i) == static_cast<int>(i * 10));
        CHECK_THROWS_WITH_AS(v.get(n), doctest::Contains("out of range"), shard::invalid_argument);
        CHECK_THROWS_AS(v.set(n, 1), shard::invalid_argument);
        CHECK_THROWS_AS(v.segment(g), shard::invalid_argument);
      }
    }
}

TEST_CASE("vector::resize keeps the prefix and value-initialises the rest" * doctest::test_suite("vector")) {
  for (std::size_t g : test::shard_counts)
    for (auto& ctx : test::contexts(g))
      for (std::size_t n : {std::size_t{0}, std::size_t{1}, g, std::size_t{1000}}) {
        const auto dists = test::distributions(n, g);
        for (std::size_t di = 0; di < dists.size(); ++di)
          for (std::size_t m : {std::size_t{0}, n / 2, n + 1, 3 * n + 5}) {
            CAPTURE(g);
            CAPTURE(n);
            CAPTURE(di);
            CAPTURE(m);
            auto host = test::random_data<std::int64_t>(n, test::seed_for(g, n, di));
            shard::vector<std::int64_t> v(ctx, host, dists[di]);
            v.resize(m);
            host.resize(m);
            CHECK(v.size() == m);
            CHECK(v.to_host() == host);
            const auto sizes = v.segment_sizes();
            CHECK(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}) == m);
            if (dists[di].type() != shard::distribution::kind::explicit_sizes)
              CHECK(sizes == dists[di].sizes(m, g));  // the policy is re-applied
            else
              CHECK(v.policy().explicit_segment_sizes() == sizes);
          }
      }
}

TEST_CASE("vector copies are deep; moves leave an empty vector on the same context" * doctest::test_suite("vector")) {
  for (auto& ctx : test::contexts(3)) {
    const auto host = test::random_data<int>(100, 1);
    shard::vector<int> a(ctx, host, shard::distribution::weighted({1, 2, 3}));
    ctx.reset_stats();
    shard::vector<int> b(a);
    CHECK(ctx.stats().bytes_between_shards() == 0);
    CHECK(b.distribution() == a.distribution());
    b.set(0, 12345);
    CHECK(a.get(0) == host[0]);
    shard::vector<int> c(std::move(b));
    CHECK(b.size() == 0);
    CHECK(b.to_host().empty());
    CHECK(c.get(0) == 12345);
    b = a;  // a moved-from vector can be assigned to
    CHECK(b.to_host() == host);
    c = std::move(a);
    CHECK(c.to_host() == host);
    CHECK(a.empty());
  }
}

TEST_CASE("redistribute and copy move exactly the elements that change shard" * doctest::test_suite("vector")) {
  for (std::size_t g : test::shard_counts)
    for (auto& ctx : test::contexts(g))
      for (std::size_t n : test::sizes_for(g)) {
        const auto dists = test::distributions(n, g);
        const auto host = test::random_data<double>(n, test::seed_for(g, n, 9));
        for (std::size_t from = 0; from < dists.size(); ++from)
          for (std::size_t to = 0; to < dists.size(); ++to) {
            CAPTURE(g);
            CAPTURE(n);
            CAPTURE(from);
            CAPTURE(to);
            const auto a_sizes = dists[from].sizes(n, g), b_sizes = dists[to].sizes(n, g);
            const auto moved = test::elements_changing_shard(a_sizes, b_sizes);
            shard::vector<double> a(ctx, host, dists[from]);
            shard::vector<double> b(ctx, n, dists[to]);
            ctx.reset_stats();
            shard::copy(a, b);
            auto st = ctx.stats();
            CHECK(st.bytes_between_shards() == moved * sizeof(double));
            CHECK(st.bytes_to_host() + st.bytes_from_host() == 0);
            CHECK(st.host_syncs == 1);
            CHECK(b.to_host() == host);

            ctx.reset_stats();
            a.redistribute(dists[to]);
            CHECK(ctx.stats().bytes_between_shards() == moved * sizeof(double));
            CHECK(a.segment_sizes() == b_sizes);
            CHECK(a.to_host() == host);
          }
      }
}

TEST_CASE("copy between host memory and vectors, and its bad input" * doctest::test_suite("vector")) {
  for (auto& ctx : test::contexts(4)) {
    const auto host = test::random_data<float>(1001, 5);
    shard::vector<float> v(ctx, 1001, shard::distribution::weighted({1, 0, 2, 1}));
    shard::copy(std::span<const float>(host), v);
    CHECK(v.to_host() == host);
    std::vector<float> back(1001);
    shard::copy(v, std::span<float>(back));
    CHECK(back == host);
    shard::copy(host, v);  // std::vector converts to a span
    std::vector<float> small(5);
    CHECK_THROWS_WITH_AS(shard::copy(v, std::span<float>(small)), doctest::Contains("has 5 elements"),
                         shard::invalid_argument);
    shard::vector<float> other_size(ctx, 1000);
    CHECK_THROWS_AS(shard::copy(v, other_size), shard::invalid_argument);
    auto other_ctx = shard::context::host(4);
    shard::vector<float> elsewhere(other_ctx, 1001);
    CHECK_THROWS_WITH_AS(shard::copy(v, elsewhere), doctest::Contains("different contexts"), shard::invalid_argument);
  }
}
