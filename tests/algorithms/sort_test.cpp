// sort, stable_sort, sort_by_key, merge, is_sorted, lower_bound and upper_bound against std::,
// on inputs that break naive splitters, with their communication figures.
#include "../support/test_support.hpp"
#include <shard/core/merge_tree.hpp>
#include <shard/merge.hpp>
#include <shard/sort.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <numeric>

namespace {

enum class pattern { random, all_equal, two_keys, sorted, reversed, sorted_per_shard, zipf, extremes, signed_zeros };
constexpr pattern all_patterns[] = {pattern::random,   pattern::all_equal,        pattern::two_keys,
                                    pattern::sorted,   pattern::reversed,         pattern::sorted_per_shard,
                                    pattern::zipf,     pattern::extremes,         pattern::signed_zeros};
const char* name(pattern p) {
  static const char* names[] = {"random",           "all equal", "two keys", "sorted",       "reversed",
                                "sorted per shard", "zipf",      "extremes", "signed zeros"};
  return names[static_cast<int>(p)];
}

template <class T>
struct by_magnitude {
  SHARD_HOST_DEVICE bool operator()(T a, T b) const { return (a < 0 ? -a : a) < (b < 0 ? -b : b); }
};

struct by_x {
  SHARD_HOST_DEVICE bool operator()(const test::point& a, const test::point& b) const { return a.x < b.x; }
};

// Keys of a pattern as int64 (converted per type below); y of a point records its input index.
template <class T>
T make_key(std::int64_t k, std::size_t i) {
  if constexpr (std::is_same_v<T, test::point>) return test::point{static_cast<std::int32_t>(k), static_cast<float>(i % 100000)};
  else return static_cast<T>(k);
}

template <class T>
std::vector<T> pattern_data(pattern p, std::size_t n, std::uint64_t seed, const std::vector<std::size_t>& sizes) {
  std::mt19937_64 rng(seed);
  std::vector<T> out = test::random_data<T>(n, seed);
  using lim = std::numeric_limits<std::conditional_t<std::is_same_v<T, test::point>, std::int32_t, T>>;
  for (std::size_t i = 0; i < n; ++i) {
    switch (p) {
      case pattern::all_equal: out[i] = make_key<T>(7, i); break;
      case pattern::two_keys: out[i] = make_key<T>(rng() % 2 ? 3 : 11, i); break;
      case pattern::zipf: {
        const double u = (static_cast<double>(rng() >> 11) + 1) / 9007199254740993.0;
        out[i] = make_key<T>(std::min<std::int64_t>(1000, static_cast<std::int64_t>(1.0 / std::pow(u, 1.3))), i);
        break;
      }
      case pattern::extremes: {
        const int pick = static_cast<int>(rng() % 4);
        if constexpr (std::is_same_v<T, test::point>) {
          out[i] = make_key<T>(pick == 0 ? INT_MIN : pick == 1 ? INT_MAX : static_cast<std::int64_t>(rng() % 100), i);
        } else {
          out[i] = pick == 0 ? lim::lowest() : pick == 1 ? lim::max() : pick == 2 ? lim::min() : make_key<T>(rng() % 100, i);
        }
        break;
      }
      case pattern::signed_zeros:
        if constexpr (std::is_floating_point_v<T>) {
          const int pick = static_cast<int>(rng() % 4);
          out[i] = pick == 0 ? T(-0.0) : pick == 1 ? T(0.0) : pick == 2 ? T(-1.5) : T(2.5);
          break;
        }
        [[fallthrough]];
      default: break;  // random
    }
  }
  if (p == pattern::sorted) std::stable_sort(out.begin(), out.end(), [](const T& a, const T& b) { return a < b; });
  if (p == pattern::reversed) std::stable_sort(out.begin(), out.end(), [](const T& a, const T& b) { return b < a; });
  if (p == pattern::sorted_per_shard) {
    std::size_t at = 0;
    for (auto s : sizes) {
      std::stable_sort(out.begin() + at, out.begin() + at + s, [](const T& a, const T& b) { return a < b; });
      at += s;
    }
  }
  return out;
}

// Bitwise equality, so that -0.0 and +0.0 (and stability among equal points) count.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  if constexpr (std::is_same_v<T, test::point>) return a == b;
  else return a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

std::vector<std::size_t> owners(const std::vector<std::size_t>& sizes) {
  std::vector<std::size_t> owner;
  for (std::size_t s = 0; s < sizes.size(); ++s) owner.insert(owner.end(), sizes[s], s);
  return owner;
}

// Elements whose shard changes in a stable sort by `comp` that keeps the layout `sizes`.
template <class T, class Comp>
std::size_t moved_by_sort(const std::vector<T>& data, const std::vector<std::size_t>& sizes, Comp comp) {
  std::vector<std::size_t> perm(data.size());
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::stable_sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) { return comp(data[a], data[b]); });
  const auto owner = owners(sizes);
  std::size_t moved = 0;
  for (std::size_t i = 0; i < perm.size(); ++i) moved += owner[perm[i]] != owner[i];
  return moved;
}

template <class T>
auto default_comp() {
  if constexpr (std::is_same_v<T, test::point>) return by_x{};
  else return shard::less<>{};
}

// Patterns for a size: all of them up to 10007 elements, two for the large size.
std::vector<pattern> patterns_for(std::size_t n) {
  if (n > 10007) return {pattern::random, pattern::all_equal};
  return std::vector<pattern>(std::begin(all_patterns), std::end(all_patterns));
}

}  // namespace

TEST_CASE_TEMPLATE("sort is std::stable_sort on inputs that break naive splitters, and moves each element at most once" *
                       doctest::test_suite("sort"),
                   T, std::int32_t, std::uint64_t, float, double, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto sizes = d.sizes(n, ctx.size());
    for (pattern p : patterns_for(n)) {
      const std::string input = name(p);
      CAPTURE(input);
      auto host = pattern_data<T>(p, n, seed, sizes);
      shard::vector<T> v(ctx, host, d);
      const auto comp = default_comp<T>();
      const std::size_t moved = moved_by_sort(host, sizes, comp);
      ctx.reset_stats();
      shard::sort(v, comp);
      const auto st = ctx.stats();
      std::stable_sort(host.begin(), host.end(), comp);
      CHECK(same_bits(v.to_host(), host));
      CHECK(v.segment_sizes() == sizes);
      CHECK(st.host_syncs <= 4);
      CHECK(st.bytes_between_shards() == moved * sizeof(T));
      if (n != 0) {
        // The phases' wall times, one call each, in order.
        REQUIRE(st.phases.size() == 3);
        CHECK(st.phases[0].name == "sort.local");
        CHECK(st.phases[1].name == "sort.splitters");
        CHECK(st.phases[2].name == "sort.exchange_merge");
        for (const auto& ph : st.phases) CHECK(ph.calls == 1);
      }
      CHECK(shard::is_sorted(v, comp));
    }
  });
}

TEST_CASE("sort and is_sorted of bool masks" * doctest::test_suite("sort")) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    auto host = test::random_data<bool>(n, seed);
    shard::vector<bool> v(ctx, host, d);
    const std::size_t moved = moved_by_sort(host, d.sizes(n, ctx.size()), shard::less<>{});
    ctx.reset_stats();
    shard::sort(v);
    CHECK(ctx.stats().bytes_between_shards() == moved * sizeof(bool));
    std::stable_sort(host.begin(), host.end());
    CHECK(v.to_host() == host);
    CHECK(shard::is_sorted(v));
  });
}

TEST_CASE_TEMPLATE("sort with greater<> and stable_sort with a user comparator" * doctest::test_suite("sort"), T,
                   std::int32_t, double) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    auto host = test::random_data<T>(n, seed);
    shard::vector<T> v(ctx, host, d);
    shard::sort(v, shard::greater<>{});
    std::stable_sort(host.begin(), host.end(), std::greater<T>{});
    CHECK(same_bits(v.to_host(), host));
    // By magnitude only: many equivalent keys, whose order must be kept.
    shard::vector<T> w(ctx, test::random_data<T>(n, seed + 1), d);
    auto expect = w.to_host();
    shard::stable_sort(w, by_magnitude<T>{});
    std::stable_sort(expect.begin(), expect.end(), by_magnitude<T>{});
    CHECK(same_bits(w.to_host(), expect));
  });
}

TEST_CASE_TEMPLATE("sort_by_key is stable and keeps both vectors' distributions" * doctest::test_suite("sort"), K,
                   std::int32_t, float, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto sizes = d.sizes(n, ctx.size());
    for (pattern p : {pattern::random, pattern::two_keys, pattern::all_equal}) {
      const std::string input = name(p);
      CAPTURE(input);
      const auto keys = pattern_data<K>(p, n, seed, sizes);
      std::vector<std::uint64_t> index(n);
      std::iota(index.begin(), index.end(), std::uint64_t{0});
      shard::vector<K> k(ctx, keys, d);
      shard::vector<std::uint64_t> v(ctx, index, shard::distribution::even());
      const auto comp = default_comp<K>();
      shard::sort_by_key(k, v, comp);
      std::vector<std::size_t> perm(n);
      std::iota(perm.begin(), perm.end(), std::size_t{0});
      std::stable_sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) { return comp(keys[a], keys[b]); });
      std::vector<K> want_keys(n);
      std::vector<std::uint64_t> want_index(n);
      for (std::size_t i = 0; i < n; ++i) want_keys[i] = keys[perm[i]], want_index[i] = perm[i];
      CHECK(same_bits(k.to_host(), want_keys));
      CHECK(v.to_host() == want_index);
      CHECK(k.segment_sizes() == sizes);
      CHECK(v.segment_sizes() == shard::distribution::even().sizes(n, ctx.size()));
    }
  });
}

TEST_CASE_TEMPLATE("merge is std::merge, equal elements of the first input first" * doctest::test_suite("sort"), T,
                   std::int32_t, double, test::point) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    const auto comp = default_comp<T>();
    auto ha = test::random_data<T>(n, seed);
    auto hb = test::random_data<T>(n / 2 + 1, seed + 7);
    std::stable_sort(ha.begin(), ha.end(), comp);
    std::stable_sort(hb.begin(), hb.end(), comp);
    shard::vector<T> a(ctx, ha, d), b(ctx, hb), out(ctx, ha.size() + hb.size(), shard::distribution::even());
    ctx.reset_stats();
    shard::merge(a, b, out, comp);
    const auto st = ctx.stats();
    std::vector<T> want;
    std::merge(ha.begin(), ha.end(), hb.begin(), hb.end(), std::back_inserter(want), comp);
    CHECK(same_bits(out.to_host(), want));
    CHECK(st.host_syncs <= 4);
    CHECK(st.bytes_between_shards() <= (ha.size() + hb.size()) * sizeof(T));
    CHECK(shard::is_sorted(out, comp));
    if (out.size() >= 2) {
      // A descent anywhere, at a shard boundary too, is found.
      for (std::size_t at : {std::size_t{0}, (out.size() - 2) / 2, out.size() - 2}) {
        shard::vector<T> broken(out);
        auto x = broken.get(at), y = broken.get(at + 1);
        if (!comp(x, y)) continue;
        broken.set(at, y);
        broken.set(at + 1, x);
        CHECK_FALSE(shard::is_sorted(broken, comp));
      }
    }
  });
}

namespace {
/// shard::lower_bound and upper_bound of `needles` (also in `ns`) in `sorted` (the keys `hs`)
/// give std::'s global positions, each in one host sync.
template <class T>
void check_bounds(shard::context& ctx, const std::vector<T>& hs, const std::vector<T>& needles,
                  const shard::vector<T>& sorted, const shard::vector<T>& ns, shard::vector<std::size_t>& result) {
  std::vector<std::size_t> want(needles.size());
  ctx.reset_stats();
  shard::lower_bound(sorted, ns, result);
  CHECK(ctx.stats().host_syncs == 1);
  for (std::size_t i = 0; i < needles.size(); ++i)
    want[i] = static_cast<std::size_t>(std::lower_bound(hs.begin(), hs.end(), needles[i]) - hs.begin());
  CHECK(result.to_host() == want);
  ctx.reset_stats();
  shard::upper_bound(sorted, ns, result);
  CHECK(ctx.stats().host_syncs == 1);
  for (std::size_t i = 0; i < needles.size(); ++i)
    want[i] = static_cast<std::size_t>(std::upper_bound(hs.begin(), hs.end(), needles[i]) - hs.begin());
  CHECK(result.to_host() == want);
}
}  // namespace

TEST_CASE_TEMPLATE("lower_bound and upper_bound give std::'s global positions" * doctest::test_suite("sort"), T,
                   std::int32_t, float) {
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    auto hs = test::random_data<T>(n, seed);
    std::sort(hs.begin(), hs.end());
    const auto needles = test::random_data<T>(n / 3 + 2, seed + 3);
    shard::vector<T> sorted(ctx, hs, d), ns(ctx, needles);
    shard::vector<std::size_t> result(ctx, needles.size(), d.type() == shard::distribution::kind::explicit_sizes
                                                                ? shard::distribution::even()
                                                                : d);
    check_bounds(ctx, hs, needles, sorted, ns, result);
  });
}

TEST_CASE("lower_bound and upper_bound of ascending needles (the galloping search the sort's queries take)" *
          doctest::test_suite("sort")) {
  // Needles in order take the backends' galloping path: clustered, repeated, spread, and past
  // either end of the keys, so that its first step (the mean distance left) overshoots and
  // undershoots.
  test::for_every_case([](shard::context& ctx, std::size_t n, const shard::distribution& d, std::uint64_t seed) {
    auto hs = test::random_data<std::int32_t>(n, seed);
    for (auto& x : hs) x %= 1000;  // duplicates
    std::sort(hs.begin(), hs.end());
    std::vector<std::int32_t> needles{-2000, -2000};
    for (std::size_t i = 0; i < n / 4; ++i) needles.push_back(static_cast<std::int32_t>((i * 37) % 1000) - 500);
    for (int i = 0; i < 20; ++i) needles.push_back(7);
    needles.push_back(5000);
    std::sort(needles.begin(), needles.end());
    shard::vector<std::int32_t> sorted(ctx, hs, d), ns(ctx, needles, shard::distribution::even());
    shard::vector<std::size_t> result(ctx, needles.size());
    check_bounds(ctx, hs, needles, sorted, ns, result);
  });
}

TEST_CASE("merge_tree: ceil(log2 R) levels that cover every run, back and forth between the runs and a spare" *
          doctest::test_suite("sort")) {
  // The plan both backends' merge_runs execute; checked by merging with it, level by level,
  // as the CUDA backend does (two-way merges, a lone run copied), against std::stable_sort.
  for (std::size_t runs = 0; runs <= 17; ++runs) {
    CAPTURE(runs);
    std::vector<std::size_t> offsets{0};
    std::vector<std::pair<int, std::size_t>> in;  // (key, original position): stability shows
    for (std::size_t r = 0; r < runs; ++r) {
      const std::size_t len = (r * 7) % 5;  // some runs empty
      std::vector<int> keys;
      for (std::size_t i = 0; i < len; ++i) keys.push_back(static_cast<int>((r * 31 + i * 17) % 6));
      std::sort(keys.begin(), keys.end());
      for (int k : keys) in.emplace_back(k, in.size());
      offsets.push_back(in.size());
    }
    const auto plan = shard::detail::merge_tree(offsets);
    std::size_t levels = 0;
    for (std::size_t r = runs; r > 1; r = (r + 1) / 2) ++levels;
    REQUIRE(plan.size() == levels);
    const auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
    auto own = in;  // the runs' buffer: the first level reads it, later levels write it again
    std::vector<std::pair<int, std::size_t>> spare(in.size());
    for (std::size_t l = 0; l < plan.size(); ++l) {
      CHECK(plan[l].into_spare == (l % 2 == 0));  // ping-pong, starting into the spare
      const auto& src = plan[l].into_spare ? own : spare;
      auto& dst = plan[l].into_spare ? spare : own;
      std::size_t covered = 0;
      for (const auto& m : plan[l].steps) {
        CHECK(m.lo == covered);
        CHECK(m.lo <= m.mid);
        CHECK(m.mid <= m.hi);
        covered = m.hi;
        std::merge(src.begin() + static_cast<std::ptrdiff_t>(m.lo), src.begin() + static_cast<std::ptrdiff_t>(m.mid),
                   src.begin() + static_cast<std::ptrdiff_t>(m.mid), src.begin() + static_cast<std::ptrdiff_t>(m.hi),
                   dst.begin() + static_cast<std::ptrdiff_t>(m.lo), by_key);
      }
      CHECK(covered == in.size());
    }
    auto expected = in;
    std::stable_sort(expected.begin(), expected.end(), by_key);
    CHECK(shard::detail::result_in_spare(plan) == (levels % 2 == 1));
    CHECK((shard::detail::result_in_spare(plan) ? spare : own) == expected);
  }
}

TEST_CASE("sort, merge and the searches reject bad arguments and leave the inputs intact" * doctest::test_suite("sort")) {
  auto ctx = shard::context::host(3);
  auto other = shard::context::host(3);
  std::vector<int> data{5, 3, 1, 4, 2};
  shard::vector<int> a(ctx, data), b(ctx, 4), wrong(ctx, 8), far(other, 5);
  shard::vector<long> values(ctx, 4);
  CHECK_THROWS_WITH_AS(shard::sort_by_key(a, values), doctest::Contains("shard::sort_by_key: the values has 4"),
                       shard::invalid_argument);
  shard::vector<long> far_values(other, 5);
  CHECK_THROWS_WITH_AS(shard::sort_by_key(a, far_values), doctest::Contains("different contexts"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::merge(a, b, wrong), doctest::Contains("shard::merge: the output has 8"),
                       shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::merge(a, far, wrong), doctest::Contains("different contexts"), shard::invalid_argument);
  shard::vector<int> c(ctx, 10);
  CHECK_THROWS_WITH_AS(shard::merge(a, c, c), doctest::Contains("must not be one of the inputs"), shard::invalid_argument);
  shard::vector<std::size_t> r(ctx, 3);
  CHECK_THROWS_WITH_AS(shard::lower_bound(a, b, r), doctest::Contains("shard::lower_bound: the result has 3"),
                       shard::invalid_argument);
  CHECK(a.to_host() == data);
}

TEST_CASE("stats time every algorithm call and the sort's phases" * doctest::test_suite("sort")) {
  auto ctx = shard::context::host(3, test::gpu_like());
  const auto data = test::random_data<std::int32_t>(5000, 11);
  shard::vector<std::int32_t> v(ctx, data);
  ctx.reset_stats();
  shard::sort(v);
  shard::sort(v, shard::greater<>{});
  CHECK_FALSE(shard::is_sorted(v));
  CHECK(shard::reduce(v) == std::reduce(data.begin(), data.end()));  // a permutation of the input
  const auto st = ctx.stats();
  auto calls_of = [&](const std::string& name) -> std::uint64_t {
    for (const auto& c : st.calls)
      if (c.name == name) return c.calls;
    return 0;
  };
  CHECK(calls_of("shard::stable_sort") == 2);  // shard::sort is stable_sort
  CHECK(calls_of("shard::is_sorted") == 1);
  CHECK(calls_of("shard::reduce") == 1);
  CHECK(st.call_seconds("shard::stable_sort") > 0);
  CHECK(st.call_seconds("shard::stable_sort") >= st.phase_seconds("sort.local"));
  REQUIRE(st.phases.size() == 3);
  CHECK(st.phases[0].calls == 2);
  ctx.reset_stats();
  CHECK(ctx.stats().calls.empty());
  CHECK(ctx.stats().phases.empty());
}

TEST_CASE("sort with many shards: more runs than queries per target, stable and exact" * doctest::test_suite("sort")) {
  // 40 and 70 runs: each target's candidate range is wider than queries_per_target, so the
  // splitters query a spaced subset and settle the rest in wider windows.
  for (std::size_t g : {std::size_t{40}, std::size_t{70}}) {
    for (int range : {1 << 30, 50}) {  // distinct keys, and many ties
      CAPTURE(g);
      CAPTURE(range);
      auto ctx = shard::context::host(g, test::gpu_like());
      const std::size_t n = 300007;
      std::mt19937 rng(static_cast<unsigned>(g) * 7 + static_cast<unsigned>(range));
      std::vector<int> keys(n);
      std::vector<std::uint32_t> order(n);
      for (std::size_t i = 0; i < n; ++i) keys[i] = static_cast<int>(rng() % static_cast<unsigned>(range)), order[i] = static_cast<std::uint32_t>(i);
      shard::vector<int> k(ctx, keys);
      shard::vector<std::uint32_t> v(ctx, order);
      shard::sort_by_key(k, v);
      std::vector<std::size_t> idx(n);
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
      const auto got_keys = k.to_host();
      const auto got_values = v.to_host();
      bool same = true;
      for (std::size_t i = 0; i < n && same; ++i) same = got_keys[i] == keys[idx[i]] && got_values[i] == idx[i];
      CHECK(same);
      CHECK(k.segment_sizes() == shard::distribution::even().sizes(n, g));
    }
  }
}

TEST_CASE("split_runs: the slices settle spread keys in two gathers, crowded keys take the queries too, exact either way" *
          doctest::test_suite("sort")) {
  // The splitting itself, on runs sorted per shard, against the stable merged order
  // (key, run, position) counted by brute force, for every output boundary and for targets
  // in between. Spread keys must be settled by the slices (the samples' gather and the
  // slices': two host syncs, where the queries and windows take three); keys crowded into a
  // few values take the queries and windows as well (at most four).
  struct spec {
    std::size_t g;
    unsigned range;      // keys in [0, range)
    bool slices_settle;  // the slices alone settle every boundary
  };
  // (At 200 shards of about 1000 keys, the first and last boundaries lie within the first
  // and last sample gap of nearly every run, where the runs' ends, all samples, bias the
  // estimate beyond the window's reach: those two take the queries.)
  for (const spec sp : {spec{8, 1u << 30, true}, spec{64, 1u << 30, true}, spec{200, 1u << 30, false}, spec{64, 1, false},
                        spec{64, 3, false}, spec{16, 40, false}}) {
    CAPTURE(sp.g);
    CAPTURE(sp.range);
    auto ctx = shard::context::host(sp.g, test::gpu_like());
    const std::size_t n = 200003;
    std::mt19937 rng(static_cast<unsigned>(sp.g) * 31 + sp.range);
    std::vector<int> keys(n);
    for (auto& k : keys) k = static_cast<int>(rng() % sp.range);
    // Uneven segments, one of them empty: every run sorted on its shard.
    std::vector<double> weights;
    for (std::size_t s = 0; s < sp.g; ++s) weights.push_back(s == 1 ? 0.0 : 1.0 + static_cast<double>(s % 3));
    shard::vector<int> v(ctx, keys, shard::distribution::weighted(weights));
    std::vector<shard::detail::sorted_run<int, void>> runs;
    std::vector<std::vector<int>> sorted_runs;
    for (std::size_t s = 0; s < sp.g; ++s) {
      auto seg = v.segment(s);
      std::vector<int> part(keys.begin() + static_cast<std::ptrdiff_t>(seg.offset),
                            keys.begin() + static_cast<std::ptrdiff_t>(seg.offset + seg.size));
      std::sort(part.begin(), part.end());
      std::copy(part.begin(), part.end(), seg.data);
      sorted_runs.push_back(part);
      runs.push_back({s, seg.data, nullptr, seg.size});
    }
    std::vector<std::size_t> targets;
    for (std::size_t s = 1; s < sp.g; ++s) targets.push_back(n * s / sp.g);  // the even layout's boundaries
    // and targets in between, away from the ends (where every run's first and last
    // elements, all samples, crowd the windows of spread keys too).
    for (int extra = 0; extra < 40; ++extra) targets.push_back(n / 20 + rng() % (n - n / 10));
    targets.push_back(0);
    targets.push_back(n);
    std::sort(targets.begin(), targets.end());
    auto& impl = ctx.impl();
    const auto syncs_before = ctx.stats().host_syncs;
    shard::detail::phase_timer timer(impl, "split.local");
    const auto split = shard::detail::split_runs(impl, runs, targets, shard::less<>{}, [] {}, timer, "split.splitters");
    const auto syncs = ctx.stats().host_syncs - syncs_before;
    // The stable merged order, and each target's count of every run's elements before it.
    std::vector<std::pair<int, std::size_t>> merged;  // (key, run), in (key, run, position) order
    for (std::size_t j = 0; j < runs.size(); ++j)
      for (int k : sorted_runs[j]) merged.emplace_back(k, j);
    std::stable_sort(merged.begin(), merged.end());
    std::vector<std::size_t> want(runs.size(), 0);  // counts of merged[0, i), the targets in order
    std::size_t i = 0, wrong = 0;
    for (std::size_t t = 0; t < targets.size(); ++t) {
      for (; i < targets[t]; ++i) ++want[merged[i].second];
      wrong += split[t] != want;
    }
    CHECK(wrong == 0);
    if (sp.slices_settle) CHECK(syncs == 2);
    CHECK(syncs <= 4);
  }
}
