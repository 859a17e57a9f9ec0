#pragma once
// The algorithm family on an SPMD context, every result checked against std:: and, bit for
// bit, against a single-process context with as many shards (the same shard sequence and
// distribution). Run by every rank with the same arguments: under mpirun (mpi_suite.cpp)
// and with ranks as threads (threads_test.cpp, also under ASan and TSan). Collective calls
// only; each rank records its own failures.
#include <shard/context.hpp>
#include <shard/copy.hpp>
#include <shard/copy_if.hpp>
#include <shard/count.hpp>
#include <shard/extrema.hpp>
#include <shard/fill.hpp>
#include <shard/for_each.hpp>
#include <shard/functional.hpp>
#include <shard/merge.hpp>
#include <shard/reduce.hpp>
#include <shard/reduce_by_key.hpp>
#include <shard/scan.hpp>
#include <shard/sort.hpp>
#include <shard/transform.hpp>
#include <shard/transform_reduce.hpp>
#include <shard/vector.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace spmd_test {

struct report {
  int rank = 0;
  std::size_t checks = 0;
  std::vector<std::string> failures;
  void check(bool ok, const std::string& what) {
    ++checks;
    if (!ok) failures.push_back("rank " + std::to_string(rank) + ": " + what);
  }
};

/// Bitwise equality (floating point included: -0.0 and NaN payloads count).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  if constexpr (std::is_same_v<T, bool>)
    return a == b;
  else
    return a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}
template <class T>
bool same_value(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

struct is_even {
  SHARD_HOST_DEVICE bool operator()(int x) const { return x % 2 == 0; }
};
struct square {
  SHARD_HOST_DEVICE float operator()(float x) const { return x * x; }
};
struct add_one {
  SHARD_HOST_DEVICE void operator()(int& x) const { x += 1; }
};

inline std::vector<int> random_ints(std::size_t n, unsigned seed, int range) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(-range, range);
  std::vector<int> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}
inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen) * (gen() % 2 ? 1e6f : 1e-3f);  // magnitudes that make the order show
  return v;
}

/// Every algorithm on `ctx` (SPMD) and `one` (single process, ctx.size() shards), size n.
inline void run_case(shard::context ctx, shard::context one, std::size_t n, report& r) {
  const std::string at = " (n = " + std::to_string(n) + ")";
  const auto ints = random_ints(n, static_cast<unsigned>(n) + 1, 1000);
  const auto floats = random_floats(n, static_cast<unsigned>(n) + 2);

  // Containers: construction, to_host, get/set, to_host_on, copies between layouts.
  shard::vector<int> vi(ctx, ints), oi(one, ints);
  r.check(vi.segment_sizes() == oi.segment_sizes(), "layout" + at);
  r.check(vi.to_host() == ints, "to_host" + at);
  const auto gathered = vi.to_host_on(ctx.ranks() - 1);
  r.check(ctx.rank() == ctx.ranks() - 1 ? gathered == ints : gathered.empty(), "to_host_on" + at);
  if (n != 0) {
    r.check(vi.get(n - 1) == ints[n - 1] && vi.get(n / 2) == ints[n / 2], "get" + at);
    shard::vector<int> w(vi);
    w.set(n / 3, 424242);
    auto expect = ints;
    expect[n / 3] = 424242;
    r.check(w.to_host() == expect, "copy and set" + at);
  }
  {
    std::vector<double> weights(ctx.size());
    for (std::size_t s = 0; s < weights.size(); ++s) weights[s] = static_cast<double>(s % 3 + 1);
    const auto d = shard::distribution::weighted(weights);
    shard::vector<int> moved(vi, d), moved_one(oi, d);
    r.check(moved.to_host() == ints && moved.segment_sizes() == moved_one.segment_sizes(), "copy to a layout" + at);
    moved.redistribute(shard::distribution::even());
    r.check(moved.to_host() == ints, "redistribute" + at);
    moved.resize(n + 5);
    auto grown = ints;
    grown.resize(n + 5, 0);
    r.check(moved.to_host() == grown, "resize" + at);
  }

  // Element-wise.
  {
    shard::vector<float> vf(ctx, floats), of(one, floats), out(ctx, n), out_one(one, n);
    shard::transform(vf, out, square{});
    shard::transform(of, out_one, square{});
    r.check(same_bits(out.to_host(), out_one.to_host()), "transform" + at);
    shard::vector<int> e(vi);
    shard::for_each(e, add_one{});
    auto plus1 = ints;
    for (auto& x : plus1) x += 1;
    r.check(e.to_host() == plus1, "for_each" + at);
    shard::iota(e, 5);
    std::vector<int> io(n);
    std::iota(io.begin(), io.end(), 5);
    r.check(e.to_host() == io, "iota" + at);
    shard::fill(e, 7);
    r.check(e.to_host() == std::vector<int>(n, 7), "fill" + at);
  }

  // Reductions: the same bits as one process.
  {
    shard::vector<float> vf(ctx, floats), of(one, floats);
    r.check(same_value(shard::reduce(vf), shard::reduce(of)), "reduce<float>" + at);
    r.check(shard::reduce(vi) == std::accumulate(ints.begin(), ints.end(), 0), "reduce<int>" + at);
    r.check(same_value(shard::transform_reduce(vf, 0.0f, shard::plus<>{}, square{}),
                       shard::transform_reduce(of, 0.0f, shard::plus<>{}, square{})),
            "transform_reduce" + at);
    r.check(shard::count_if(vi, is_even{}) ==
                static_cast<std::size_t>(std::count_if(ints.begin(), ints.end(), [](int x) { return x % 2 == 0; })),
            "count_if" + at);
    const auto mn = shard::min_element(vi), mx = shard::max_element(vi);
    const auto smn = std::min_element(ints.begin(), ints.end()), smx = std::max_element(ints.begin(), ints.end());
    r.check(mn.index == static_cast<std::size_t>(smn - ints.begin()) && (n == 0 || mn.value == *smn), "min_element" + at);
    r.check(mx.index == static_cast<std::size_t>(smx - ints.begin()) && (n == 0 || mx.value == *smx), "max_element" + at);
  }

  // Reproducible sums and scans: the same bits on every rank layout as on one shard (the
  // correctly rounded sum: layout-free), whatever the ranks.
  {
    const shard::context single = shard::context::host(1);
    shard::vector<float> vf(ctx, floats), lone(single, floats);
    r.check(same_value(shard::reduce(shard::reproducible, vf), shard::reduce(shard::reproducible, lone)),
            "reduce(reproducible)" + at);
    shard::vector<float> out(ctx, n), out_lone(single, n);
    shard::inclusive_scan(shard::reproducible, vf, out);
    shard::inclusive_scan(shard::reproducible, lone, out_lone);
    r.check(same_bits(out.to_host(), out_lone.to_host()), "inclusive_scan(reproducible)" + at);
  }

  // Scans.
  {
    shard::vector<float> vf(ctx, floats), of(one, floats), out(ctx, n), out_one(one, n);
    shard::inclusive_scan(vf, out);
    shard::inclusive_scan(of, out_one);
    r.check(same_bits(out.to_host(), out_one.to_host()), "inclusive_scan<float>" + at);
    shard::exclusive_scan(vf, out, 1.5f);
    shard::exclusive_scan(of, out_one, 1.5f);
    r.check(same_bits(out.to_host(), out_one.to_host()), "exclusive_scan<float>" + at);
    shard::vector<int> si(ctx, n);
    shard::inclusive_scan(vi, si, shard::maximum<>{});
    std::vector<int> expect(n);
    std::inclusive_scan(ints.begin(), ints.end(), expect.begin(), [](int a, int b) { return std::max(a, b); });
    r.check(si.to_host() == expect, "inclusive_scan(max)" + at);
  }

  // Sorts, with the bytes moved: every rank's counters together are one process's.
  {
    shard::vector<int> s(ctx, ints), so(one, ints);
    ctx.reset_stats();
    one.reset_stats();
    shard::sort(s);
    shard::sort(so);
    const auto global = ctx.global_stats();
    const auto single = one.stats();
    r.check(global.bytes == single.bytes, "sort: the bytes moved, summed over the ranks" + at);
    auto sorted = ints;
    std::sort(sorted.begin(), sorted.end());
    r.check(s.to_host() == sorted, "sort" + at);
    r.check(shard::is_sorted(s) && (n < 2 || !shard::is_sorted(vi) || ints == sorted), "is_sorted" + at);

    shard::vector<int> keys(ctx, ints), keys_one(one, ints);
    shard::vector<float> values(ctx, floats), values_one(one, floats);
    shard::sort_by_key(keys, values, shard::greater<>{});
    shard::sort_by_key(keys_one, values_one, shard::greater<>{});
    r.check(keys.to_host() == keys_one.to_host() && same_bits(values.to_host(), values_one.to_host()),
            "sort_by_key" + at);

    // merge and the searches
    const auto other = random_ints(n / 2 + 3, static_cast<unsigned>(n) + 9, 1000);
    auto other_sorted = other;
    std::sort(other_sorted.begin(), other_sorted.end());
    shard::vector<int> b(ctx, other_sorted), merged(ctx, n + other.size());
    shard::merge(s, b, merged);
    std::vector<int> expect(n + other.size());
    std::merge(sorted.begin(), sorted.end(), other_sorted.begin(), other_sorted.end(), expect.begin());
    r.check(merged.to_host() == expect, "merge" + at);
    shard::vector<std::size_t> pos(ctx, other.size());
    shard::vector<int> needles(ctx, other);
    shard::lower_bound(s, needles, pos);
    const auto p = pos.to_host();
    bool ok = true;
    for (std::size_t i = 0; i < other.size(); ++i)
      ok = ok && p[i] == static_cast<std::size_t>(std::lower_bound(sorted.begin(), sorted.end(), other[i]) - sorted.begin());
    r.check(ok, "lower_bound" + at);
    shard::upper_bound(s, needles, pos);
    const auto q = pos.to_host();
    ok = true;
    for (std::size_t i = 0; i < other.size(); ++i)
      ok = ok && q[i] == static_cast<std::size_t>(std::upper_bound(sorted.begin(), sorted.end(), other[i]) - sorted.begin());
    r.check(ok, "upper_bound" + at);
  }

  // Compaction.
  {
    shard::vector<int> out(ctx, 0);
    const std::size_t kept = shard::copy_if(vi, out, is_even{});
    std::vector<int> expect;
    std::copy_if(ints.begin(), ints.end(), std::back_inserter(expect), [](int x) { return x % 2 == 0; });
    r.check(kept == expect.size() && out.to_host() == expect, "copy_if" + at);
    shard::vector<int> rm(vi);
    const std::size_t left = shard::remove_if(rm, is_even{});
    std::vector<int> rest;
    std::remove_copy_if(ints.begin(), ints.end(), std::back_inserter(rest), [](int x) { return x % 2 == 0; });
    r.check(left == rest.size() && rm.to_host() == rest, "remove_if" + at);
    const auto few = random_ints(n, static_cast<unsigned>(n) + 5, 3);
    shard::vector<int> u(ctx, few);
    const std::size_t distinct = shard::unique(u);
    auto uniq = few;
    uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
    r.check(distinct == uniq.size() && u.to_host() == uniq, "unique" + at);
    shard::vector<int> keys(ctx, few), keys_out(ctx, 0), keys_one(one, few), keys_out_one(one, 0);
    shard::vector<float> vals(ctx, floats), vals_out(ctx, 0), vals_one(one, floats), vals_out_one(one, 0);
    const std::size_t groups = shard::reduce_by_key(keys, vals, keys_out, vals_out);
    const std::size_t groups_one = shard::reduce_by_key(keys_one, vals_one, keys_out_one, vals_out_one);
    r.check(groups == groups_one && keys_out.to_host() == keys_out_one.to_host() &&
                same_bits(vals_out.to_host(), vals_out_one.to_host()),
            "reduce_by_key" + at);
  }

  // A vector made of every rank's own part: rank q contributes q + 1 elements of value q (none
  // when it has no shard: a rank left without one after a failover).
  {
    std::vector<char> holds(static_cast<std::size_t>(ctx.ranks()), 0);
    for (std::size_t s = 0; s < ctx.size(); ++s) holds[static_cast<std::size_t>(ctx.rank_of(s))] = 1;
    const std::size_t count = holds[static_cast<std::size_t>(ctx.rank())] ? static_cast<std::size_t>(ctx.rank()) + 1 : 0;
    const std::vector<int> mine(count, ctx.rank());
    shard::vector<int> parts(ctx, shard::local_parts, std::span<const int>(mine));
    std::vector<int> expect;
    for (int q = 0; q < ctx.ranks(); ++q)
      if (holds[static_cast<std::size_t>(q)]) expect.insert(expect.end(), static_cast<std::size_t>(q) + 1, q);
    r.check(parts.to_host() == expect, "vector(local_parts)" + at);
  }
}

/// The sizes every configuration runs: the largest is SHARD_TEST_LARGE (the sanitizer
/// presets run it lower), or 100003.
inline std::vector<std::size_t> sizes(std::size_t shards) {
  const char* large = std::getenv("SHARD_TEST_LARGE");
  const std::size_t big = large != nullptr && *large != '\0' ? std::stoul(large) : 100003;
  return {0, 1, shards, 1000, big + 3};
}

/// The whole suite on `ctx`; its single-process twin is host(ctx.size()).
inline report run_suite(const shard::context& ctx) {
  report r;
  r.rank = ctx.rank();
  const shard::context one = shard::context::host(ctx.size());
  for (auto n : sizes(ctx.size())) run_case(ctx, one, n, r);
  return r;
}

}  // namespace spmd_test
