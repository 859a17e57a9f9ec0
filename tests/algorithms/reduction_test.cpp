// reduce, transform_reduce, count, count_if, min_element, max_element against std::.
#include "../support/test_support.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace {
// The documented association order of the host backend: each segment folded left to right
// from the operator's start, then init folded with the segment results in shard order.
template <class T, class U, class Op>
U documented_host_order(const std::vector<T>& host, const std::vector<std::size_t>& sizes, U init, Op op) {
  U acc = init;
  std::size_t at = 0;
  for (auto n : sizes) {
    if (n == 0) continue;
    U part = static_cast<U>(host[at]);
    for (std::size_t i = 1; i < n; ++i) part = op(part, static_cast<U>(host[at + i]));
    acc = op(acc, part);
    at += n;
  }
  return acc;
}

// The host backend's documented order for sums of arithmetic types: per segment, 16 running
// sums over the whole blocks of 16 (lane j takes elements j, j + 16, ...), then 0 + lane 0 +
// ... + lane 15, then the tail left to right; the host folds init with the segment sums in
// shard order.
template <class T>
T documented_blocked_sum(const std::vector<T>& host, const std::vector<std::size_t>& sizes, T init) {
  T acc = init;
  std::size_t at = 0;
  for (auto n : sizes) {
    if (n == 0) continue;
    T lane[16] = {};
    const std::size_t whole = n / 16 * 16;
    for (std::size_t i = 0; i < whole; ++i) lane[i % 16] += host[at + i];
    T part = 0;
    if (whole != 0)
      for (T x : lane) part += x;
    for (std::size_t i = whole; i < n; ++i) part += host[at + i];
    acc += part;
    at += n;
  }
  return acc;
}

// Reductions move one partial per non-empty segment to the host, nothing between shards,
// and wait once.
void check_reduction_stats(const shard::context& ctx, const std::vector<std::size_t>& sizes, std::size_t max_slot) {
  const auto st = ctx.stats();
  std::size_t non_empty = 0;
  for (auto s : sizes) non_empty += s != 0;
  CHECK(st.host_syncs == 1);
  CHECK(st.bytes_between_shards() == 0);
  CHECK(st.bytes_from_host() == 0);
  CHECK(st.bytes_to_host() <= non_empty * max_slot);
  CHECK(st.total_launches() == non_empty);
}

template <class T>
struct magnitude_fn {
  SHARD_HOST_DEVICE double operator()(T x) const {
    if constexpr (std::is_signed_v<T>) return x < T(0) ? -static_cast<double>(x) : static_cast<double>(x);
    else return static_cast<double>(x);
  }
};

struct add_points {
  SHARD_HOST_DEVICE test::point operator()(const test::point& a, const test::point& b) const {
    return {a.x + b.x, a.y + b.y};
  }
};
}  // namespace

TEST_CASE_TEMPLATE("integer reduce is exactly std::reduce" * doctest::test_suite("reduction"), T, std::int32_t,
                   std::uint64_t) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> v(ctx, host, d);
    ctx.reset_stats();
    CHECK(shard::reduce(v) == std::reduce(host.begin(), host.end()));
    check_reduction_stats(ctx, v.segment_sizes(), sizeof(T));
    CHECK(shard::reduce(v, T(7), shard::plus<>{}) == std::reduce(host.begin(), host.end(), T(7)));
    const T lowest = std::numeric_limits<T>::lowest();
    CHECK(shard::reduce(v, lowest, shard::maximum<>{}) ==
          std::reduce(host.begin(), host.end(), lowest, [](T a, T b) { return std::max(a, b); }));
    CHECK(shard::reduce(v, T(3), shard::minimum<>{}) ==
          std::reduce(host.begin(), host.end(), T(3), [](T a, T b) { return std::min(a, b); }));
  });
}

TEST_CASE_TEMPLATE("floating-point reduce follows its documented order, repeats exactly and is close to long double" *
                       doctest::test_suite("reduction"),
                   T, float, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> v(ctx, host, d);
    const T first = shard::reduce(v);
    CHECK(shard::reduce(v) == first);  // bit-identical from run to run
    long double reference = 0, magnitude = 0;
    for (T x : host) reference += x, magnitude += std::fabs(static_cast<long double>(x));
    const long double eps = std::numeric_limits<T>::epsilon();
    CHECK(std::fabs(static_cast<long double>(first) - reference) <= eps * magnitude + eps);
    if (test::sequential_order(ctx))
      CHECK(first == documented_blocked_sum(host, v.segment_sizes(), T(0)));
  });
}

TEST_CASE("reduce with a user-defined type and operator" * doctest::test_suite("reduction")) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<test::point>(n, seed);
    shard::vector<test::point> v(ctx, host, d);
    ctx.reset_stats();
    const auto got = shard::reduce(v, test::point{1, 0.5f}, add_points{});
    check_reduction_stats(ctx, v.segment_sizes(), sizeof(shard::detail::maybe<test::point>));
    const auto x_sum = std::accumulate(host.begin(), host.end(), std::int64_t{1},
                                       [](std::int64_t a, const test::point& p) { return a + p.x; });
    CHECK(got.x == x_sum);  // y values are multiples of 1/8 below 125: exact in float too
    double y_sum = 0.5;
    for (const auto& p : host) y_sum += p.y;
    CHECK(got.y == doctest::Approx(y_sum).epsilon(1e-3));  // a float sum of up to 1M terms
    if (test::sequential_order(ctx))
      CHECK(got.y == documented_host_order(host, v.segment_sizes(), test::point{1, 0.5f}, add_points{}).y);
  });
}

TEST_CASE_TEMPLATE("transform_reduce matches std::transform_reduce (unary and binary)" *
                       doctest::test_suite("reduction"),
                   T, std::int32_t, std::uint64_t, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto ha = test::random_data<T>(n, seed);
    const auto hb = test::random_data<T>(n, seed + 7);
    shard::vector<T> a(ctx, ha, d);
    shard::vector<T> b(ctx, hb);  // even, so usually unaligned with a
    auto square = [] SHARD_HOST_DEVICE(T x) { return static_cast<std::int64_t>(x) * static_cast<std::int64_t>(x); };
    ctx.reset_stats();
    CHECK(shard::transform_reduce(a, std::int64_t{0}, shard::plus<>{}, square) ==
          std::transform_reduce(ha.begin(), ha.end(), std::int64_t{0}, std::plus<>{}, square));
    check_reduction_stats(ctx, a.segment_sizes(), sizeof(std::int64_t));
    auto product = [] SHARD_HOST_DEVICE(T x, T y) { return static_cast<std::int64_t>(x) * static_cast<std::int64_t>(y); };
    ctx.reset_stats();
    CHECK(shard::transform_reduce(a, b, std::int64_t{5}, shard::plus<>{}, product) ==
          std::transform_reduce(ha.begin(), ha.end(), hb.begin(), std::int64_t{5}, std::plus<>{}, product));
    CHECK(ctx.stats().bytes_between_shards() ==
          test::elements_changing_shard(b.segment_sizes(), a.segment_sizes()) * sizeof(T));
    // A reduction without an identity: the largest |x|, from a negative start.
    const magnitude_fn<T> magnitude{};
    double expected = -1;
    for (T x : ha) expected = std::max(expected, magnitude(x));
    CHECK(shard::transform_reduce(a, -1.0, shard::maximum<>{}, magnitude) == expected);
  });
}

TEST_CASE_TEMPLATE("count and count_if match std::count and std::count_if" * doctest::test_suite("reduction"), T,
                   bool, std::int32_t, std::uint64_t, float, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> v(ctx, host, d);
    const T probe = n > 0 ? host[n / 2] : T(1);
    ctx.reset_stats();
    CHECK(shard::count(v, probe) == static_cast<std::size_t>(std::count(host.begin(), host.end(), probe)));
    check_reduction_stats(ctx, v.segment_sizes(), sizeof(std::size_t));
    auto small = [] SHARD_HOST_DEVICE(T x) { return x < T(50); };
    CHECK(shard::count_if(v, small) == static_cast<std::size_t>(std::count_if(host.begin(), host.end(), small)));
  });
}

TEST_CASE_TEMPLATE("min_element and max_element find the first extremum, as std:: does" *
                       doctest::test_suite("reduction"),
                   T, std::int32_t, std::uint64_t, float, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    auto host = test::random_data<T>(n, seed);
    if (n > 3) host[n - 1] = host[n / 3] = *std::min_element(host.begin(), host.end());  // ties across shards
    shard::vector<T> v(ctx, host, d);
    ctx.reset_stats();
    const auto [imin, vmin] = shard::min_element(v);
    check_reduction_stats(ctx, v.segment_sizes(), sizeof(shard::detail::maybe<shard::detail::indexed<T>>));
    const auto [imax, vmax] = shard::max_element(v);
    const auto smin = std::min_element(host.begin(), host.end());
    const auto smax = std::max_element(host.begin(), host.end());
    CHECK(imin == static_cast<std::size_t>(smin - host.begin()));
    CHECK(imax == static_cast<std::size_t>(smax - host.begin()));
    if (n > 0) {
      CHECK(vmin == *smin);
      CHECK(vmax == *smax);
    }
    const auto [jmin, wmin] = shard::min_element(v, shard::greater<>{});  // with a comparator
    CHECK(jmin == static_cast<std::size_t>(std::min_element(host.begin(), host.end(), std::greater<>{}) - host.begin()));
    (void)wmin;
  });
}

TEST_CASE("min_element with a user-defined type and comparator" * doctest::test_suite("reduction")) {
  for (auto& ctx : test::contexts(4)) {
    const auto host = test::random_data<test::point>(10007, 99);
    shard::vector<test::point> v(ctx, host, shard::distribution::weighted({1, 3, 0, 2}));
    auto by_y = [] SHARD_HOST_DEVICE(const test::point& a, const test::point& b) { return a.y < b.y; };
    const auto got = shard::max_element(v, by_y);
    const auto expected = std::max_element(host.begin(), host.end(), by_y);
    CHECK(got.index == static_cast<std::size_t>(expected - host.begin()));
    CHECK(got.value == *expected);
  }
}

TEST_CASE("std:: function objects are taken as shard's and give std::'s results" * doctest::test_suite("reduction")) {
  static_assert(std::is_same_v<shard::detail::callable_t<std::plus<>>, shard::plus<>>);
  static_assert(std::is_same_v<shard::detail::callable_t<std::less<long>>, shard::less<long>>);
  static_assert(std::is_same_v<shard::detail::callable_t<magnitude_fn<int>>, magnitude_fn<int>>);
  for (std::size_t g : {1u, 3u, 8u})
    for (auto& ctx : test::contexts(g)) {
      CAPTURE(g);
      const auto a_host = test::random_data<std::int64_t>(10007, 5);
      const auto b_host = test::random_data<std::int64_t>(10007, 6);
      shard::vector<std::int64_t> a(ctx, a_host), b(ctx, b_host), out(ctx, a_host.size());
      CHECK(shard::reduce(a, std::int64_t{5}, std::plus<>{}) == std::reduce(a_host.begin(), a_host.end(), std::int64_t{5}));
      CHECK(shard::min_element(a, std::greater<>{}).index ==
            static_cast<std::size_t>(std::max_element(a_host.begin(), a_host.end()) - a_host.begin()));
      CHECK(shard::max_element(a, std::less<std::int64_t>{}).value == *std::max_element(a_host.begin(), a_host.end()));
      CHECK(shard::transform_reduce(a, b, std::int64_t{0}, std::plus<>{}, std::multiplies<>{}) ==
            std::transform_reduce(a_host.begin(), a_host.end(), b_host.begin(), std::int64_t{0}));
      shard::transform(a, b, out, std::minus<>{});
      std::vector<std::int64_t> expected(a_host.size());
      std::transform(a_host.begin(), a_host.end(), b_host.begin(), expected.begin(), std::minus<>{});
      CHECK(out.to_host() == expected);
    }
}
