// fill, iota, transform (unary, binary), for_each against the std:: algorithms.
#include "../support/test_support.hpp"

#include <algorithm>
#include <numeric>

namespace {
template <class T>
struct twice_minus_one {
  SHARD_HOST_DEVICE T operator()(const T& x) const { return static_cast<T>(x + x - T(1)); }
};
template <>
struct twice_minus_one<test::point> {
  SHARD_HOST_DEVICE test::point operator()(const test::point& p) const { return {2 * p.x - 1, p.y}; }
};
}  // namespace

TEST_CASE_TEMPLATE("fill and iota match std::fill and the sequence first + i" * doctest::test_suite("elementwise"), T,
                   std::int32_t, std::uint64_t, float, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t) {
    shard::vector<T> v(ctx, n, d);
    ctx.reset_stats();
    shard::fill(v, T(42));
    CHECK(v.to_host() == std::vector<T>(n, T(42)));
    shard::iota(v, T(5));
    std::vector<T> expected(n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = static_cast<T>(T(5) + static_cast<T>(i));
    CHECK(v.to_host() == expected);
    auto st = ctx.stats();
    CHECK(st.bytes_between_shards() == 0);
    std::size_t non_empty = 0;
    for (auto s : v.segment_sizes()) non_empty += s != 0;
    CHECK(st.total_launches() == 2 * non_empty);
  });
}

TEST_CASE("fill works on a user-defined element type" * doctest::test_suite("elementwise")) {
  for (auto& ctx : test::contexts(3)) {
    shard::vector<test::point> v(ctx, 1001, shard::distribution::weighted({0, 1, 4}));
    shard::fill(v, test::point{3, 1.5f});
    CHECK(v.to_host() == std::vector<test::point>(1001, test::point{3, 1.5f}));
  }
}

TEST_CASE_TEMPLATE("transform of aligned vectors matches std::transform and moves 0 bytes" *
                       doctest::test_suite("elementwise"),
                   T, std::int32_t, std::uint64_t, float, double, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> in(ctx, host, d);
    shard::vector<T> out(ctx, n, d);
    ctx.reset_stats();
    shard::transform(in, out, twice_minus_one<T>{});
    auto st = ctx.stats();
    CHECK(st.bytes_between_shards() == 0);
    CHECK(st.bytes_to_host() == 0);
    CHECK(st.host_syncs == 1);
    std::vector<T> expected(n);
    std::transform(host.begin(), host.end(), expected.begin(), twice_minus_one<T>{});
    CHECK(out.to_host() == expected);
    shard::transform(in, in, twice_minus_one<T>{});  // in place
    CHECK(in.to_host() == expected);
  });
}

TEST_CASE_TEMPLATE("transform of unaligned vectors is right and its exchange shows in stats" *
                       doctest::test_suite("elementwise"),
                   T, std::int32_t, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> in(ctx, host, d);
    shard::vector<T> out(ctx, n);  // even
    ctx.reset_stats();
    shard::transform(in, out, [] SHARD_HOST_DEVICE(T x) { return static_cast<T>(x * T(3)); });
    const auto moved = test::elements_changing_shard(in.segment_sizes(), out.segment_sizes());
    CHECK(ctx.stats().bytes_between_shards() == moved * sizeof(T));
    std::vector<T> expected(n);
    std::transform(host.begin(), host.end(), expected.begin(), [](T x) { return static_cast<T>(x * T(3)); });
    CHECK(out.to_host() == expected);
  });
}

TEST_CASE_TEMPLATE("binary transform matches std::transform, aligned or not" * doctest::test_suite("elementwise"), T,
                   std::int32_t, std::uint64_t, float, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto ha = test::random_data<T>(n, seed);
    const auto hb = test::random_data<T>(n, seed + 1);
    shard::vector<T> a(ctx, ha, d);
    shard::vector<T> b(ctx, hb);  // even: unaligned with a unless d resolves the same
    shard::vector<double> out(ctx, n, d);
    ctx.reset_stats();
    auto op = [] SHARD_HOST_DEVICE(T x, T y) { return static_cast<double>(x) - static_cast<double>(y); };
    shard::transform(a, b, out, op);
    const auto moved = test::elements_changing_shard(b.segment_sizes(), out.segment_sizes());
    CHECK(ctx.stats().bytes_between_shards() == moved * sizeof(T));
    std::vector<double> expected(n);
    std::transform(ha.begin(), ha.end(), hb.begin(), expected.begin(),
                   [](T x, T y) { return static_cast<double>(x) - static_cast<double>(y); });
    CHECK(out.to_host() == expected);
  });
}

TEST_CASE_TEMPLATE("for_each modifies every element in place" * doctest::test_suite("elementwise"), T, std::int32_t,
                   float, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    auto host = test::random_data<T>(n, seed);
    shard::vector<T> v(ctx, host, d);
    ctx.reset_stats();
    shard::for_each(v, [] SHARD_HOST_DEVICE(T & x) { x = twice_minus_one<T>{}(x); });
    CHECK(ctx.stats().bytes_between_shards() == 0);
    std::for_each(host.begin(), host.end(), [](T& x) { x = twice_minus_one<T>{}(x); });
    CHECK(v.to_host() == host);
  });
}
