// copy_if, remove_if, unique and reduce_by_key against std:: (and a sequential reduce_by_key),
// with runs that cross shard boundaries, and the bytes their rebalancing moves.
#include "../support/test_support.hpp"
#include <shard/copy_if.hpp>
#include <shard/reduce_by_key.hpp>

#include <algorithm>
#include <numeric>

namespace {
template <class T>
struct is_odd {
  SHARD_HOST_DEVICE bool operator()(const T& x) const {
    if constexpr (std::is_same_v<T, test::point>) return x.x % 2 != 0;
    else if constexpr (std::is_floating_point_v<T>) return static_cast<long long>(x) % 2 != 0;
    else return x % 2 != 0;
  }
};

struct max_x {
  SHARD_HOST_DEVICE test::point operator()(const test::point& a, const test::point& b) const {
    return a.x >= b.x ? a : b;
  }
};

// Data with long runs of equal values (so runs cross shard boundaries): random values,
// each repeated a random number of times up to `run`.
template <class T>
std::vector<T> runs_of(std::size_t n, std::uint64_t seed, std::size_t run) {
  const auto base = test::random_data<T>(n, seed);
  std::mt19937_64 rng(seed + 1);
  std::vector<T> out;
  for (std::size_t i = 0; out.size() < n; ++i) {
    const std::size_t len = 1 + rng() % run;
    for (std::size_t k = 0; k < len && out.size() < n; ++k) out.push_back(base[i % std::max<std::size_t>(n, 1)]);
  }
  return out;
}

// Bytes that rebalancing `counts` onto the even layout must move between shards, walking
// every kept element (independent of the library's planner).
std::size_t rebalance_moves(const std::vector<std::size_t>& counts) {
  std::size_t total = std::accumulate(counts.begin(), counts.end(), std::size_t{0});
  return test::elements_changing_shard(counts, shard::distribution::even().sizes(total, counts.size()));
}

template <class T>
std::vector<std::size_t> kept_per_shard(const std::vector<T>& host, const std::vector<std::size_t>& sizes,
                                        is_odd<T> pred) {
  std::vector<std::size_t> kept;
  std::size_t at = 0;
  for (auto s : sizes) {
    kept.push_back(static_cast<std::size_t>(std::count_if(host.begin() + at, host.begin() + at + s, pred)));
    at += s;
  }
  return kept;
}
}  // namespace

TEST_CASE_TEMPLATE("copy_if and remove_if are std::copy_if and std::remove_if, evenly rebalanced" *
                       doctest::test_suite("compaction"),
                   T, bool, std::int32_t, std::uint64_t, float, double, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto host = test::random_data<T>(n, seed);
    shard::vector<T> in(ctx, host, d), out(ctx, 3);
    ctx.reset_stats();
    const std::size_t count = shard::copy_if(in, out, is_odd<T>{});
    const auto st = ctx.stats();
    std::vector<T> want;
    std::copy_if(host.begin(), host.end(), std::back_inserter(want), is_odd<T>{});
    CHECK(count == want.size());
    CHECK(out.to_host() == want);
    CHECK(out.segment_sizes() == shard::distribution::even().sizes(count, ctx.size()));
    CHECK(st.host_syncs <= 2);
    CHECK(st.bytes_between_shards() == rebalance_moves(kept_per_shard(host, in.segment_sizes(), is_odd<T>{})) * sizeof(T));
    CHECK(in.to_host() == host);
    const std::size_t left = shard::remove_if(in, is_odd<T>{});
    auto kept = host;
    kept.erase(std::remove_if(kept.begin(), kept.end(), is_odd<T>{}), kept.end());
    CHECK(left == kept.size());
    CHECK(in.to_host() == kept);
    CHECK(in.segment_sizes() == shard::distribution::even().sizes(left, ctx.size()));
  });
}

TEST_CASE_TEMPLATE("unique is std::unique, across shard boundaries too" * doctest::test_suite("compaction"), T,
                   std::int32_t, double, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    for (std::size_t run : {std::size_t{1}, std::size_t{3}, n / 2 + 1}) {
      CAPTURE(run);
      auto host = runs_of<T>(n, seed, run);
      shard::vector<T> v(ctx, host, d);
      ctx.reset_stats();
      const std::size_t count = shard::unique(v);
      CHECK(ctx.stats().host_syncs <= 2);
      host.erase(std::unique(host.begin(), host.end()), host.end());
      CHECK(count == host.size());
      CHECK(v.to_host() == host);
      CHECK(v.segment_sizes() == shard::distribution::even().sizes(count, ctx.size()));
    }
  });
}

TEST_CASE_TEMPLATE("reduce_by_key joins runs across shard boundaries" * doctest::test_suite("compaction"), K,
                   std::int32_t, std::uint64_t, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    for (std::size_t run : {std::size_t{1}, std::size_t{4}, n + 1}) {
      CAPTURE(run);
      const auto keys = runs_of<K>(n, seed, run);
      const auto values = test::random_data<std::int64_t>(n, seed + 5);
      shard::vector<K> k(ctx, keys, d);
      shard::vector<std::int64_t> v(ctx, values);  // laid out unlike the keys
      shard::vector<K> keys_out(ctx, 0);
      shard::vector<std::int64_t> values_out(ctx, 0);
      const std::size_t runs = shard::reduce_by_key(k, v, keys_out, values_out);
      std::vector<K> want_keys;
      std::vector<std::int64_t> want_values;
      for (std::size_t i = 0; i < n; ++i) {
        if (i == 0 || !(keys[i - 1] == keys[i])) want_keys.push_back(keys[i]), want_values.push_back(0);
        want_values.back() += values[i];
      }
      CHECK(runs == want_keys.size());
      CHECK(keys_out.to_host() == want_keys);
      CHECK(values_out.to_host() == want_values);
      CHECK(values_out.segment_sizes() == shard::distribution::even().sizes(runs, ctx.size()));
      // A user operator on user values: maxima.
      shard::vector<test::point> pv(ctx, test::random_data<test::point>(n, seed + 9), d);
      shard::vector<test::point> pout(ctx, 0);
      const auto ph = pv.to_host();
      CHECK(shard::reduce_by_key(k, pv, keys_out, pout, max_x{}) == runs);
      std::vector<test::point> want_max;
      for (std::size_t i = 0; i < n; ++i) {
        if (i == 0 || !(keys[i - 1] == keys[i])) want_max.push_back(ph[i]);
        else want_max.back() = max_x{}(want_max.back(), ph[i]);
      }
      CHECK(pout.to_host() == want_max);
    }
  });
}

TEST_CASE("compaction rejects bad arguments and leaves the inputs intact" * doctest::test_suite("compaction")) {
  auto ctx = shard::context::host(3);
  auto other = shard::context::host(3);
  std::vector<int> data{1, 1, 2, 3, 3};
  shard::vector<int> a(ctx, data), far(other, 0);
  CHECK_THROWS_WITH_AS(shard::copy_if(a, far, is_odd<int>{}), doctest::Contains("shard::copy_if: the vectors belong to different contexts"),
                       shard::invalid_argument);
  shard::vector<long> values(ctx, 4), vo(ctx, 0);
  shard::vector<int> ko(ctx, 0);
  CHECK_THROWS_WITH_AS(shard::reduce_by_key(a, values, ko, vo), doctest::Contains("shard::reduce_by_key: the values has 4"),
                       shard::invalid_argument);
  shard::vector<long> far_values(other, 0);
  shard::vector<long> v5(ctx, 5);
  CHECK_THROWS_WITH_AS(shard::reduce_by_key(a, v5, ko, far_values), doctest::Contains("different contexts"),
                       shard::invalid_argument);
  CHECK(a.to_host() == data);
}
