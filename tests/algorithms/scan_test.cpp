// inclusive_scan and exclusive_scan against std::, their documented floating-point order, and
// their communication: O(G) values per shard, one host sync.
#include "../support/test_support.hpp"
#include <shard/scan.hpp>

#include <cmath>
#include <functional>
#include <numeric>

namespace {
// The host backend's sum of one segment (the documented blocked order, as in
// reduction_test.cpp): 16 lanes over whole blocks, then the lanes, then the tail.
template <class T>
T blocked(const T* p, std::size_t n) {
  T lane[16] = {};
  const std::size_t whole = n / 16 * 16;
  for (std::size_t i = 0; i < whole; ++i) lane[i % 16] += p[i];
  T part = 0;
  if (whole != 0)
    for (T x : lane) part += x;
  for (std::size_t i = whole; i < n; ++i) part += p[i];
  return part;
}

// The documented order of a sum scan: shard s continues from the shard-order fold of the
// earlier shards' sums (init first for an exclusive scan), then left to right.
template <class T>
std::vector<T> documented_sum_scan(const std::vector<T>& x, const std::vector<std::size_t>& sizes, bool exclusive,
                                   T init) {
  std::vector<T> out(x.size());
  std::vector<T> part;  // every shard's sum, 0 for an empty one
  std::vector<std::size_t> at;
  std::size_t offset = 0;
  for (auto n : sizes) {
    part.push_back(blocked(x.data() + offset, n));
    at.push_back(offset);
    offset += n;
  }
  bool earlier = false;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    if (sizes[s] == 0) continue;
    const bool has_carry = exclusive || earlier;
    earlier = true;
    T acc = exclusive ? init : T(0);
    for (std::size_t k = 0; k < s; ++k) acc = (k == 0 && !exclusive) ? part[0] : acc + part[k];
    for (std::size_t i = 0; i < sizes[s]; ++i) {
      const T v = x[at[s] + i];
      if (exclusive) {
        out[at[s] + i] = acc;
        acc += v;
      } else {
        acc = (i == 0 && !has_carry) ? v : acc + v;
        out[at[s] + i] = acc;
      }
    }
  }
  return out;
}

template <class T>
struct xor_op {
  SHARD_HOST_DEVICE T operator()(T a, T b) const { return a ^ b; }
};

struct max_points {
  SHARD_HOST_DEVICE test::point operator()(const test::point& a, const test::point& b) const {
    return a.x >= b.x ? a : b;
  }
};

void check_scan_stats(const shard::context& ctx, std::size_t value_bytes) {
  const auto st = ctx.stats();
  const std::size_t g = ctx.size();
  CHECK(st.host_syncs <= 1);  // none for an empty vector
  CHECK(st.bytes_between_shards() <= g * (g - 1) * value_bytes);  // one value to every other shard
  CHECK(st.bytes_to_host() == 0);
  CHECK(st.bytes_from_host() == 0);
}
}  // namespace

TEST_CASE_TEMPLATE("integer scans are exactly std::inclusive_scan and std::exclusive_scan" * doctest::test_suite("scan"),
                   T, std::int32_t, std::uint64_t) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> in(ctx, host, d), out(ctx, n, d);
    std::vector<T> want(n);
    ctx.reset_stats();
    shard::inclusive_scan(in, out);
    check_scan_stats(ctx, sizeof(T));
    std::inclusive_scan(host.begin(), host.end(), want.begin());
    CHECK(out.to_host() == want);
    ctx.reset_stats();
    shard::exclusive_scan(in, out, T(5));
    check_scan_stats(ctx, sizeof(T));
    std::exclusive_scan(host.begin(), host.end(), want.begin(), T(5));
    CHECK(out.to_host() == want);
    // Another operator, in place, and an output laid out differently from the input.
    std::inclusive_scan(host.begin(), host.end(), want.begin(), [](T a, T b) { return std::max(a, b); });
    shard::vector<T> even(ctx, n);
    shard::inclusive_scan(in, even, shard::maximum<>{});
    CHECK(even.to_host() == want);
    CHECK(even.segment_sizes() == shard::distribution::even().sizes(n, ctx.size()));
    std::exclusive_scan(host.begin(), host.end(), want.begin(), T(1), std::bit_xor<T>{});
    shard::exclusive_scan(in, in, T(1), xor_op<T>{});
    CHECK(in.to_host() == want);
  });
}

TEST_CASE_TEMPLATE("floating-point scans follow their documented order and repeat exactly on the host" * doctest::test_suite("scan"),
                   T, float, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> in(ctx, host, d), out(ctx, n, d);
    shard::inclusive_scan(in, out);
    const auto first = out.to_host();
    shard::inclusive_scan(in, out);
    // CUB's floating-point scans are not run-to-run deterministic on a GPU (its documentation).
    if (ctx.kind() == shard::backend::host) CHECK(out.to_host() == first);
    if (test::sequential_order(ctx)) {
      CHECK(first == documented_sum_scan(host, in.segment_sizes(), false, T(0)));
      shard::exclusive_scan(in, out, T(0.5));
      CHECK(out.to_host() == documented_sum_scan(host, in.segment_sizes(), true, T(0.5)));
    }
    // Close to the exact prefix sums whatever the backend.
    long double exact = 0, magnitude = 0;
    for (std::size_t i = 0; i < n; ++i) {
      exact += host[i];
      magnitude += std::fabs(static_cast<long double>(host[i]));
      if (i % 997 == 0 || i + 1 == n)
        CHECK(std::fabs(first[i] - exact) <= 4 * std::numeric_limits<T>::epsilon() * magnitude);
    }
  });
}

TEST_CASE("scans of a user type with a non-commutative operator" * doctest::test_suite("scan")) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<test::point>(n, seed);
    shard::vector<test::point> in(ctx, host, d), out(ctx, n);
    // "keep the first of equal maxima" is associative but not commutative.
    std::vector<test::point> want(n);
    std::inclusive_scan(host.begin(), host.end(), want.begin(), max_points{});
    ctx.reset_stats();
    shard::inclusive_scan(in, out, max_points{});
    if (in.segment_sizes() == out.segment_sizes()) check_scan_stats(ctx, sizeof(shard::detail::maybe<test::point>));
    CHECK(out.to_host() == want);
    std::exclusive_scan(host.begin(), host.end(), want.begin(), test::point{-1000, 2}, max_points{});
    shard::exclusive_scan(in, out, test::point{-1000, 2}, max_points{});
    CHECK(out.to_host() == want);
  });
}

TEST_CASE("scans reject bad arguments" * doctest::test_suite("scan")) {
  auto ctx = shard::context::host(3);
  auto other = shard::context::host(3);
  shard::vector<int> a(ctx, 10), b(ctx, 11), c(other, 10);
  CHECK_THROWS_WITH_AS(shard::inclusive_scan(a, b), doctest::Contains("shard::inclusive_scan: the output has 11"),
                       shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::exclusive_scan(a, c, 0), doctest::Contains("different contexts"), shard::invalid_argument);
  CHECK(a.to_host() == std::vector<int>(10, 0));
}
