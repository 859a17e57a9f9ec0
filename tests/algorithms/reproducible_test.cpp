// Reproducible sums (shard::reproducible): the same bits for the same values on 1..8 shards,
// every distribution, several ranks, the GPU's freedoms of order (cuda_semantics), both
// executors; and the correctly rounded sum, against exact references.
#include "../support/test_support.hpp"

#include <shard/scan.hpp>
#include <shard/thread_ranks.hpp>

#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

__extension__ using i128 = __int128;  // GCC's and nvcc's 128-bit integer: the exact references

template <class U>
bool same_bits(U a, U b) {
  return std::memcmp(&a, &b, sizeof(U)) == 0;
}

/// Element by element, bit for bit (memcmp of two empty vectors would take null pointers).
template <class U>
bool same_bits(const std::vector<U>& a, const std::vector<U>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i])) return false;
  return true;
}

/// Values over a wide range of magnitudes, both signs, with cancellation: m * 2^e with m a
/// 50-bit integer and e in [-30, 30], so that the exact sum is an integer times 2^-30 below
/// 2^(50 + 30 + 30 + 20): an i128 holds it.
std::vector<double> wide_doubles(std::size_t n, std::uint64_t seed, i128* exact) {
  std::mt19937_64 gen(seed);
  std::vector<double> out(n);
  *exact = 0;
  for (auto& x : out) {
    const auto m = static_cast<std::int64_t>(gen() >> 14) - (std::int64_t{1} << 49);
    const int e = static_cast<int>(gen() % 61) - 30;
    x = std::ldexp(static_cast<double>(m), e);  // exact: |m| < 2^50
    *exact += static_cast<i128>(m) << (e + 30);
  }
  return out;
}

/// v * 2^-30, rounded once to double (GCC converts a 128-bit integer to double to nearest, ties
/// to even; the scaling is exact).
double rounded(i128 v) { return std::ldexp(static_cast<double>(v), -30); }

}  // namespace

TEST_CASE("reduce(reproducible): the same bits for every shard count, distribution and backend; the correctly rounded sum" *
          doctest::test_suite("reproducible")) {
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{1000}, std::size_t{4099}}) {
    CAPTURE(n);
    i128 exact = 0;
    const auto data = wide_doubles(n, 12345 + n, &exact);
    const double expected = rounded(exact);
    std::vector<float> floats(n);
    for (std::size_t i = 0; i < n; ++i) floats[i] = static_cast<float>(data[i] * 1e-20);
    bool have_float = false;
    float float_bits = 0;
    for (std::size_t g = 1; g <= 8; ++g)
      for (auto& ctx : test::contexts(g))
        for (const auto& dist : test::distributions(n, g)) {
          CAPTURE(g);
          const shard::vector<double> v(ctx, data, dist);
          const double got = shard::reduce(shard::reproducible, v);
          CHECK(same_bits(got, expected));
          CHECK(same_bits(shard::reduce(shard::reproducible, v, 0.0, std::plus<>{}), expected));
          const shard::vector<float> f(ctx, floats, dist);
          const float fs = shard::reduce(shard::reproducible, f);
          if (!have_float) float_bits = fs, have_float = true;
          CHECK(same_bits(fs, float_bits));
        }
  }
}

TEST_CASE("reduce(reproducible) rounds once: cancellation, ties, overflow on the way, subnormals, specials" *
          doctest::test_suite("reproducible")) {
  auto ctx = shard::context::host(3, test::gpu_like());
  const auto sum = [&](std::vector<double> values, double init = 0.0) {
    const shard::vector<double> v(ctx, values);
    return shard::reduce(shard::reproducible, v, init, shard::plus<>{});
  };
  CHECK(sum({1e100, 1.0, -1e100}) == 1.0);                                  // a naive sum gives 0
  CHECK(sum({std::ldexp(1.0, 53), 1.0, 1.0}) == std::ldexp(1.0, 53) + 2);   // left to right gives 2^53
  CHECK(sum({std::ldexp(1.0, 53), 1.0}) == std::ldexp(1.0, 53));            // a tie: to even
  CHECK(sum({std::ldexp(1.0, 53), 1.0, std::ldexp(1.0, -60)}) == std::ldexp(1.0, 53) + 2);  // just above the tie
  CHECK(sum({DBL_MAX, DBL_MAX, -DBL_MAX}) == DBL_MAX);                        // no overflow on the way
  CHECK(std::isinf(sum({DBL_MAX, DBL_MAX})));
  CHECK(sum({std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::denorm_min()}) ==
        2 * std::numeric_limits<double>::denorm_min());
  CHECK(sum({DBL_MIN, -std::numeric_limits<double>::denorm_min()}) == DBL_MIN - std::numeric_limits<double>::denorm_min());
  CHECK(sum({0.1, 0.2, 0.3}, 0.0) == 0.6);  // the three doubles' sum, rounded once (left to right: 0.6000000000000001)
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(sum({1.0, inf, 2.0}) == inf);
  CHECK(sum({1.0, -inf}) == -inf);
  CHECK(std::isnan(sum({inf, -inf})));
  CHECK(std::isnan(sum({1.0, std::nan(""), 2.0})));
  CHECK(std::signbit(sum({-0.0, -0.0}, -0.0)));
  CHECK_FALSE(std::signbit(sum({-0.0, 0.0}, -0.0)));
  CHECK_FALSE(std::signbit(sum({}, 0.0)));
  CHECK(std::signbit(sum({}, -0.0)));
  CHECK_FALSE(std::signbit(sum({1.0, -1.0}, -0.0)));
  CHECK(sum({}, 2.5) == 2.5);
  CHECK(sum({1.0}, 1e100) == 1e100);
  // Floats: the sum rounded once to float, not through double.
  const shard::vector<float> f(ctx, std::vector<float>{1.0f, std::ldexp(1.0f, -24), std::ldexp(1.0f, -60)});
  CHECK(shard::reduce(shard::reproducible, f) == 1.0f + std::ldexp(1.0f, -23));  // above the tie: up
  const shard::vector<float> g(ctx, std::vector<float>{FLT_MAX, FLT_MAX, -FLT_MAX});
  CHECK(shard::reduce(shard::reproducible, g) == FLT_MAX);
  // Integers: the ordinary (exact) sum.
  const shard::vector<int> k(ctx, std::vector<int>{1, 2, 3});
  CHECK(shard::reduce(shard::reproducible, k, 10, std::plus<>{}) == 16);
}

TEST_CASE("reduce(reproducible) of many floats equals the exact sum rounded, on any layout" *
          doctest::test_suite("reproducible")) {
  // Floats whose sum a double holds exactly (24-bit significands over 2^-20..2^20, 10^5 of
  // them: below 2^58), so the double sum in any order is exact, rounded once to float.
  std::mt19937 gen(7);
  std::vector<float> data(100000);
  double exact = 0;
  for (auto& x : data) {
    x = std::ldexp(static_cast<float>(static_cast<int>(gen() % (1u << 24)) - (1 << 23)), static_cast<int>(gen() % 41) - 40);
    exact += static_cast<double>(x);
  }
  const float expected = static_cast<float>(exact);
  for (const std::size_t g : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
    CAPTURE(g);
    for (auto& ctx : test::contexts(g)) {
      const shard::vector<float> v(ctx, data, shard::distribution::weighted(std::vector<double>(g, 1.0)));
      CHECK(same_bits(shard::reduce(shard::reproducible, v), expected));
    }
  }
}

TEST_CASE("transform_reduce(reproducible): a dot product with the same bits on every layout; threads and GPU order" *
          doctest::test_suite("reproducible")) {
  i128 ignored = 0;
  const auto a = wide_doubles(3001, 99, &ignored);
  const auto b = wide_doubles(3001, 98, &ignored);
  std::vector<double> squares;
  bool first = true;
  double dot_bits = 0, norm_bits = 0;
  for (const bool gpu_order : {false, true})
    for (const std::size_t threads : {std::size_t{0}, std::size_t{2}})
      for (const std::size_t g : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{8}}) {
        CAPTURE(gpu_order);
        CAPTURE(threads);
        CAPTURE(g);
        shard::host_options options = test::gpu_like();
        options.cuda_semantics = gpu_order;
        options.threads = threads;
        auto ctx = shard::context::host(g, options);
        for (const auto& dist : test::distributions(a.size(), g)) {
          const shard::vector<double> x(ctx, a, dist);
          const shard::vector<double> y(ctx, b, shard::distribution::even());  // exchanged into x's layout
          const double dot = shard::transform_reduce(shard::reproducible, x, y, 0.0, std::plus<>{}, std::multiplies<>{});
          const double norm = shard::transform_reduce(shard::reproducible, x, 0.0, std::plus<>{},
                                                      [] SHARD_HOST_DEVICE(double e) { return e * e; });
          if (first) dot_bits = dot, norm_bits = norm, first = false;
          CHECK(same_bits(dot, dot_bits));
          CHECK(same_bits(norm, norm_bits));
        }
      }
  // The dot product sums the products rounded to double: the same bits as the reproducible
  // sum of those products.
  auto one = shard::context::host(1);
  std::vector<double> products(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) products[i] = a[i] * b[i];
  const shard::vector<double> p(one, products);
  CHECK(same_bits(shard::reduce(shard::reproducible, p), dot_bits));
}

TEST_CASE("reduce(reproducible) on ranks: every rank layout gives one process's bits" *
          doctest::test_suite("reproducible")) {
  i128 exact = 0;
  const auto data = wide_doubles(2000, 5, &exact);
  const double expected = rounded(exact);
  for (const int ranks : {2, 3}) {
    CAPTURE(ranks);
    shard::thread_ranks world(ranks);
    std::atomic<int> right{0};
    world.run([&](int r) {
      auto ctx = shard::context::spmd(world.communicator(r), shard::context::host(r == 1 ? 3 : 1));
      const shard::vector<double> v(ctx, data);
      if (same_bits(shard::reduce(shard::reproducible, v), expected)) ++right;
    });
    CHECK(right.load() == ranks);
  }
}

TEST_CASE("inclusive_scan and exclusive_scan(reproducible): the same bits on every layout; correctly rounded prefixes" *
          doctest::test_suite("reproducible")) {
  // Values m * 2^e (|m| < 2^50, e in [-30, 30]): a span of 2^110, within the grid's, so every
  // prefix is the exact prefix sum rounded once.
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{777}}) {
    CAPTURE(n);
    i128 ignored = 0;
    const auto data = wide_doubles(n, 31 + n, &ignored);
    std::vector<double> inclusive(n), exclusive(n);
    const double init = 0.375;
    i128 acc = 0, acc_ex = static_cast<i128>(init * std::ldexp(1.0, 30));
    std::mt19937_64 gen(31 + n);  // the same draws as wide_doubles
    for (std::size_t i = 0; i < n; ++i) {
      const auto m = static_cast<std::int64_t>(gen() >> 14) - (std::int64_t{1} << 49);
      const int e = static_cast<int>(gen() % 61) - 30;
      const i128 v = static_cast<i128>(m) << (e + 30);
      exclusive[i] = rounded(acc_ex);
      acc += v;
      acc_ex += v;
      inclusive[i] = rounded(acc);
    }
    std::vector<float> floats(n);
    for (std::size_t i = 0; i < n; ++i) floats[i] = static_cast<float>(data[i]);
    std::vector<float> float_bits;
    for (std::size_t g = 1; g <= 8; ++g)
      for (auto& ctx : test::contexts(g))
        for (const auto& dist : test::distributions(n, g)) {
          CAPTURE(g);
          const shard::vector<double> v(ctx, data, dist);
          shard::vector<double> out(ctx, n, shard::distribution::even());  // the input is exchanged into it
          shard::inclusive_scan(shard::reproducible, v, out);
          const auto in_host = out.to_host();
          for (std::size_t i = 0; i < n; ++i) CHECK(same_bits(in_host[i], inclusive[i]));
          shard::exclusive_scan(shard::reproducible, v, out, init);
          const auto ex_host = out.to_host();
          for (std::size_t i = 0; i < n; ++i) CHECK(same_bits(ex_host[i], exclusive[i]));
          shard::vector<float> f(ctx, floats, dist);
          shard::inclusive_scan(shard::reproducible, f, f, std::plus<>{});  // in place
          const auto fh = f.to_host();
          if (float_bits.empty()) float_bits = fh;
          CHECK(same_bits(fh, float_bits));
        }
  }
}

TEST_CASE("reproducible scans: cancellation, specials per prefix, negative zeros, ranks" *
          doctest::test_suite("reproducible")) {
  auto ctx = shard::context::host(3, test::gpu_like());
  const double inf = std::numeric_limits<double>::infinity();
  const auto scan = [&](std::vector<double> values) {
    const shard::vector<double> v(ctx, values, shard::distribution::explicit_sizes({1, 0, values.size() - 1}));
    shard::vector<double> out(ctx, values.size());
    shard::inclusive_scan(shard::reproducible, v, out);
    return out.to_host();
  };
  CHECK(scan({1e10, 1.0, -1e10, 2.0}) == std::vector<double>{1e10, 1e10 + 1, 1.0, 3.0});
  CHECK(scan({0.1, 0.2, 0.3}) == std::vector<double>{0.1, 0.30000000000000004, 0.6});
  const auto s = scan({1.0, inf, 2.0, -inf, 3.0});
  CHECK(s[0] == 1.0);
  CHECK(s[1] == inf);
  CHECK(s[2] == inf);
  CHECK(std::isnan(s[3]));
  CHECK(std::isnan(s[4]));
  const auto z = scan({-0.0, -0.0, 0.0, -0.0});
  CHECK(std::signbit(z[0]));
  CHECK(std::signbit(z[1]));
  CHECK_FALSE(std::signbit(z[2]));
  CHECK_FALSE(std::signbit(z[3]));
  CHECK(scan({std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::denorm_min()})[1] ==
        2 * std::numeric_limits<double>::denorm_min());
  // Integers: the ordinary scan.
  const shard::vector<int> k(ctx, std::vector<int>{1, 2, 3});
  shard::vector<int> ko(ctx, 3);
  shard::exclusive_scan(shard::reproducible, k, ko, 10);
  CHECK(ko.to_host() == std::vector<int>{10, 11, 13});
  // Across ranks: one process's bits.
  i128 ignored = 0;
  const auto data = wide_doubles(500, 77, &ignored);
  auto one = shard::context::host(1);
  const shard::vector<double> whole(one, data);
  shard::vector<double> whole_out(one, data.size());
  shard::inclusive_scan(shard::reproducible, whole, whole_out);
  const auto expected = whole_out.to_host();
  shard::thread_ranks world(3);
  std::atomic<int> right{0};
  world.run([&](int r) {
    auto rc = shard::context::spmd(world.communicator(r), shard::context::host(r == 2 ? 2 : 1));
    const shard::vector<double> v(rc, data);
    shard::vector<double> out(rc, data.size());
    shard::inclusive_scan(shard::reproducible, v, out);
    const auto got = out.to_host();
    if (same_bits(got, expected)) ++right;
  });
  CHECK(right.load() == 3);
}
