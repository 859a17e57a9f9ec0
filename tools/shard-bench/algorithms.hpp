#pragma once
// shard-bench algorithms: shard's algorithms over 1..G shards and a size sweep: time,
// throughput, scaling efficiency against one shard, and what each call moved (from stats).
#include "common.hpp"
#include "inside.hpp"
#include "svg.hpp"

#include <functional>
#include <map>
#include <tuple>

namespace bench {

struct algorithm_point {
  std::string algorithm, key;
  std::size_t shards = 0, elements = 0;
  double time_us = 0, throughput_gbps = 0, efficiency = 0;
  figure time;             // per call, from stats (ctx.stats().call_seconds)
  long long wrong = -1;    // elements (or results) verified wrong
  shard::stats moved;      // of one call
};

/// One prepared call of an algorithm: `run` performs it (a sort first restores its unsorted
/// input and then resets the stats, so they hold the call alone); `wrong` checks its result
/// against what the input implies, with shard's own algorithms on the shards (0: correct).
struct prepared_call {
  std::function<void()> run;
  std::function<long long()> wrong;
};

/// An algorithm as the benchmark runs it: its key (-t, JSON), the public call whose time the
/// stats record (shard::sort is shard::stable_sort, and records itself under that name), its
/// element type, the bytes of memory it touches per element, and whether it merges the
/// sorted runs each shard receives (the model prices those merge passes, less the passes a
/// one-shard call already does), and how much more memory traffic each shard's local work has
/// on several shards than the one-shard call (the scan: a reduce pass before its scan, three
/// passes where one shard makes two).
struct algorithm_case {
  std::string key, name, call;
  std::string type;
  double bytes_per_element;  // reads + writes (the sorts and the merge: the element's size)
  std::function<prepared_call(shard::context&, std::size_t)> prepare;
  bool merges = false;
  std::size_t merge_passes_in_one_shard = 0;
  double local_traffic_on_many = 1;
};

struct scale_add_fn {
  SHARD_HOST_DEVICE float operator()(float x) const { return 2.0f * x + 1.0f; }
};
struct odd_fn {
  SHARD_HOST_DEVICE bool operator()(std::int32_t x) const { return (x & 1) != 0; }
};
struct even_fn {
  SHARD_HOST_DEVICE bool operator()(std::int32_t x) const { return (x & 1) == 0; }
};
struct not_three_fn {
  SHARD_HOST_DEVICE bool operator()(float x) const { return x != 3.0f; }
};
template <class K>
struct to_u64_fn {
  SHARD_HOST_DEVICE std::uint64_t operator()(K x) const { return static_cast<std::uint64_t>(x); }
};
struct differs_fn {
  SHARD_HOST_DEVICE std::size_t operator()(std::int64_t a, std::int64_t b) const { return a != b ? 1 : 0; }
};

/// `n` pseudo-random keys (a fixed generator, the same on every run).
template <class K>
std::vector<K> random_keys(std::size_t n) {
  std::vector<K> out(n);
  std::uint64_t x = 88172645463325252ull;
  for (auto& k : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    k = static_cast<K>(x);
  }
  return out;
}

/// A sort of fresh copies of the same random keys (of pairs when `pairs`). Checked: the
/// keys are sorted and sum to the input's sum (a permutation of them, as far as a checksum
/// tells), and the values of pairs are a permutation of 0..n-1 by their sum.
template <class K>
std::function<prepared_call(shard::context&, std::size_t)> sort_case(bool pairs) {
  return [pairs](shard::context& ctx, std::size_t n) -> prepared_call {
    auto input = std::make_shared<shard::vector<K>>(ctx, random_keys<K>(n));
    auto keys = std::make_shared<shard::vector<K>>(ctx, n);
    auto values = std::make_shared<shard::vector<std::int32_t>>(ctx, pairs ? n : 0);
    auto ctx_copy = std::make_shared<shard::context>(ctx);
    const auto checksum = [](const shard::vector<K>& v) {
      return shard::transform_reduce(v, std::uint64_t{0}, shard::plus<>{}, to_u64_fn<K>{});
    };
    const std::uint64_t sum = checksum(*input);
    return {[input, keys, values, pairs, ctx_copy] {
              shard::copy(*input, *keys);
              if (pairs) shard::iota(*values, 0);
              ctx_copy->reset_stats();
              if (pairs) shard::sort_by_key(*keys, *values);
              else shard::sort(*keys);
            },
            [keys, values, pairs, n, sum, checksum]() -> long long {
              long long wrong = shard::is_sorted(*keys) ? 0 : 1;
              if (checksum(*keys) != sum) ++wrong;
              if (pairs && shard::transform_reduce(*values, std::uint64_t{0}, shard::plus<>{}, to_u64_fn<std::int32_t>{}) !=
                               static_cast<std::uint64_t>(n) * (n - 1) / 2)
                ++wrong;
              return wrong;
            }};
  };
}

/// `n` ascending int32 keys from `seed` (random gaps of 0..3 from -2^30: no overflow up to
/// n = 2^30), made in O(n), so that large sweeps need no host sort.
inline std::vector<std::int32_t> ascending_keys(std::size_t n, std::uint64_t seed) {
  std::vector<std::int32_t> out(n);
  std::uint64_t x = seed;
  std::int64_t k = -(std::int64_t{1} << 30);
  for (auto& v : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    k += static_cast<std::int64_t>(x & 3);
    v = static_cast<std::int32_t>(k);
  }
  return out;
}

/// A merge of two sorted vectors of n / 2 and n - n / 2 keys whose values interleave. Each
/// call first overwrites the output (so a call that writes nothing fails the check), then
/// resets the stats, which then hold the merge alone. Checked: sorted, and the inputs'
/// checksum.
inline prepared_call merge_case(shard::context& ctx, std::size_t n) {
  auto a = std::make_shared<shard::vector<std::int32_t>>(ctx, ascending_keys(n / 2, 88172645463325252ull));
  auto b = std::make_shared<shard::vector<std::int32_t>>(ctx, ascending_keys(n - n / 2, 0x9E3779B97F4A7C15ull));
  auto out = std::make_shared<shard::vector<std::int32_t>>(ctx, n);
  auto ctx_copy = std::make_shared<shard::context>(ctx);
  const auto checksum = [](const shard::vector<std::int32_t>& v) {
    return shard::transform_reduce(v, std::uint64_t{0}, shard::plus<>{}, to_u64_fn<std::int32_t>{});
  };
  const std::uint64_t sum = checksum(*a) + checksum(*b);
  return {[a, b, out, ctx_copy] {
            shard::fill(*out, std::int32_t{0});
            ctx_copy->reset_stats();
            shard::merge(*a, *b, *out);
          },
          [out, sum, checksum]() -> long long { return (shard::is_sorted(*out) ? 0 : 1) + (checksum(*out) == sum ? 0 : 1); }};
}

/// The algorithms measured: element-wise, reduction, scan, sorts, merge and compaction.
inline std::vector<algorithm_case> algorithm_cases() {
  return {
      {"transform", "transform", "shard::transform", "float32", 2 * sizeof(float),
       [](shard::context& ctx, std::size_t n) -> prepared_call {
         auto x = std::make_shared<shard::vector<float>>(ctx, n, 1.0f);
         auto y = std::make_shared<shard::vector<float>>(ctx, n);
         return {[x, y] { shard::transform(*x, *y, scale_add_fn{}); },
                 [y]() -> long long { return static_cast<long long>(shard::count_if(*y, not_three_fn{})); }};
       }},
      {"reduce", "reduce", "shard::reduce", "float32", sizeof(float),
       [](shard::context& ctx, std::size_t n) -> prepared_call {
         auto x = std::make_shared<shard::vector<float>>(ctx, n, 1.0f);
         auto result = std::make_shared<float>(0.0f);
         return {[x, result] { *result = shard::reduce(*x); },
                 // A sum of n ones in float: exact up to 2^24, within float rounding beyond.
                 [result, n]() -> long long { return std::fabs(*result - static_cast<float>(n)) <= 1e-5f * static_cast<float>(n) ? 0 : 1; }};
       }},
      {"inclusive_scan", "inclusive_scan", "shard::inclusive_scan", "int64", 2 * sizeof(std::int64_t),
       [](shard::context& ctx, std::size_t n) -> prepared_call {
         auto x = std::make_shared<shard::vector<std::int64_t>>(ctx, n, std::int64_t{1});
         auto y = std::make_shared<shard::vector<std::int64_t>>(ctx, n);
         // The scan of ones is 1, 2, ..., n: elements not equal to their index + 1 are wrong.
         return {[x, y] { shard::inclusive_scan(*x, *y); },
                 [y, ctx]() -> long long {
                   shard::vector<std::int64_t> expected(ctx, y->size());
                   shard::iota(expected, std::int64_t{1});
                   return static_cast<long long>(shard::transform_reduce(*y, expected, std::size_t{0}, shard::plus<>{}, differs_fn{}));
                 }};
       },
       false, 0, 1.5},  // reduce-then-scan (skeleton/scan.hpp): read, read and write, where one shard reads and writes
      {"sort_int32", "sort", "shard::stable_sort", "int32 keys", sizeof(std::int32_t), sort_case<std::int32_t>(false), true, 0},
      {"sort_int64", "sort", "shard::stable_sort", "int64 keys", sizeof(std::int64_t), sort_case<std::int64_t>(false), true, 0},
      {"sort_by_key", "sort_by_key", "shard::sort_by_key", "int32 keys, int32 values", 2 * sizeof(std::int32_t),
       sort_case<std::int32_t>(true), true, 0},
      // Each shard merges the runs of `a` and `b` it receives; on one shard, one pass (two runs).
      {"merge_int32", "merge", "shard::merge", "int32 keys", sizeof(std::int32_t), merge_case, true, 1},
      {"copy_if", "copy_if", "shard::copy_if", "int32, half kept", sizeof(std::int32_t),
       [](shard::context& ctx, std::size_t n) -> prepared_call {
         auto x = std::make_shared<shard::vector<std::int32_t>>(ctx, random_keys<std::int32_t>(n));
         auto y = std::make_shared<shard::vector<std::int32_t>>(ctx, 0);
         const std::size_t odd = shard::count_if(*x, odd_fn{});
         // The output holds the odd elements only, all of them.
         return {[x, y] { shard::copy_if(*x, *y, odd_fn{}); },
                 [y, odd]() -> long long {
                   return static_cast<long long>(shard::count_if(*y, even_fn{})) + (y->size() == odd ? 0 : 1);
                 }};
       }},
  };
}

/// Key of a case in tables, JSON and pictures: "sort (int32 keys)".
inline std::string case_name(const algorithm_case& c) { return c.name + " (" + c.type + ")"; }

/// case_name of the merge, whose one-shard time prices a merge pass in the model.
inline std::string merge_case_name() { return "merge (int32 keys)"; }

/// The algorithms' sweep with the backend's defaults resolved (iters: calls per size).
inline sweep_settings algorithm_settings(const target& tgt, const options& o) {
  sweep_settings s;
  s.lo = o.min_elements ? o.min_elements : (o.quick ? 1024 : std::size_t{1} << 16);
  s.hi = o.max_elements ? o.max_elements : (o.quick ? std::size_t{1} << 14 : tgt.emulated ? std::size_t{1} << 22 : std::size_t{1} << 28);
  s.factor = o.step_factor ? o.step_factor : 4;
  s.iters = o.iters ? o.iters : (o.quick ? 2 : tgt.emulated ? 5 : 20);
  s.warmup = o.warmup_given ? o.warmup : 1;
  return s;
}

inline std::vector<algorithm_point> run_algorithms(const target& tgt, const options& o) {
  const std::size_t G = tgt.ctx.size();
  std::vector<algorithm_case> cases;
  for (auto& c : algorithm_cases())
    if (selected(o, c.key)) cases.push_back(c);
  if (cases.empty()) return {};
  const sweep_settings set = algorithm_settings(tgt, o);
  const std::size_t lo = set.lo, hi = set.hi, reps = set.iters, warmup = set.warmup;
  if (lo > hi) throw usage_error("algorithms: --min-elements is larger than --max-elements");
  const auto sizes = sweep(lo, hi, set.factor);
  // Across processes, the whole context only (fewer shards would be a context of fewer
  // ranks); a call's time is then the slowest rank's, its bytes every rank's.
  const std::size_t first_g = tgt.spmd ? G : 1;
  progress bar("algorithms", cases.size() * (G - first_g + 1) * sizes.size(), o.quiet);
  std::vector<shard::context> contexts;  // shards first_g .. G
  for (std::size_t g = first_g; g <= G; ++g) contexts.push_back(g == G ? tgt.ctx : tgt.with(g));
  // Emulated shards share one machine's cores and memory, whose speed moves over seconds on a
  // shared machine: every shard count's calls of one case and size alternate, call by call,
  // so that the one-shard figures the model is calibrated with (main.cpp) and the G-shard
  // figures it is checked against see the same machine. GPUs, each with its own memory,
  // measure one shard count after another, holding one count's data at a time.
  std::vector<std::vector<std::size_t>> groups;  // indices into `contexts` measured together
  if (tgt.emulated) {
    groups.emplace_back();
    for (std::size_t i = 0; i < contexts.size(); ++i) groups.back().push_back(i);
  } else {
    for (std::size_t i = 0; i < contexts.size(); ++i) groups.push_back({i});
  }
  std::map<std::tuple<std::size_t, std::size_t, std::size_t>, algorithm_point> measured;  // (context, case, size)
  for (const auto& group : groups)
    for (std::size_t ci = 0; ci < cases.size(); ++ci)
      for (std::size_t si = 0; si < sizes.size(); ++si) {
        const auto& c = cases[ci];
        const std::size_t n = sizes[si];
        std::vector<prepared_call> calls;
        for (auto i : group) {
          bar.step();
          calls.push_back(c.prepare(contexts[i], n));
        }
        for (std::size_t w = 0; w < warmup; ++w)
          for (auto& call : calls) call.run();  // pools, caches
        // The time of each call is the one the library records for it (stats::calls).
        std::vector<std::vector<double>> times(group.size());
        for (std::size_t r = 0; r < reps * std::max<std::size_t>(o.samples, 1); ++r)
          for (std::size_t k = 0; k < group.size(); ++k) {
            shard::context& ctx = contexts[group[k]];
            ctx.reset_stats();
            calls[k].run();
            const auto& recorded = ctx.stats().calls;
            if (std::none_of(recorded.begin(), recorded.end(), [&](const shard::stats::timing& t) { return t.name == c.call; }))
              throw std::logic_error("shard-bench: the stats recorded no call of " + c.call);
            times[k].push_back(max_over_ranks(ctx.impl(), ctx.stats().call_seconds(c.call)));
          }
        for (std::size_t k = 0; k < group.size(); ++k) {
          shard::context& ctx = contexts[group[k]];
          algorithm_point p;
          p.algorithm = case_name(c);
          p.key = c.key;
          p.shards = ctx.size();
          p.elements = n;
          p.moved = ctx.global_stats();
          p.time = figure::of(times[k]);
          for (auto* x : {&p.time.value, &p.time.min, &p.time.max, &p.time.stdev}) *x *= 1e6;
          p.time_us = p.time.value;
          p.throughput_gbps = c.bytes_per_element * static_cast<double>(n) / (p.time_us * 1e-6) / 1e9;
          p.wrong = o.verify ? calls[k].wrong() : -1;
          measured[{group[k], ci, si}] = p;
        }
      }
  std::vector<algorithm_point> out;  // by shard count, then case, then size
  for (auto& [where, p] : measured) out.push_back(std::move(p));
  // Scaling efficiency: throughput on g shards over g times the throughput on one.
  std::map<std::pair<std::string, std::size_t>, double> one;
  for (auto& p : out)
    if (p.shards == 1) one[{p.algorithm, p.elements}] = p.throughput_gbps;
  for (auto& p : out) {
    const auto base = one.find({p.algorithm, p.elements});
    p.efficiency = base == one.end() ? NAN : p.throughput_gbps / (static_cast<double>(p.shards) * base->second);
  }
  return out;
}

inline void print_algorithms(std::ostream& os, const std::vector<algorithm_point>& points) {
  if (points.empty()) return;
  os << "== algorithms (time per call as the library's stats record it; throughput = bytes read and written / time, "
        "keys = elements / time; efficiency = throughput / (shards x throughput on 1 shard: the single-device "
        "baseline); moved = per call, from stats; sorts and merge: their phases' times, local / splitters / exchange+merge; "
        "#wrong: results that failed their check)\n\n";
  for (const auto& c : algorithm_cases()) {
    const bool sorting = c.merges;
    std::vector<std::string> head{"elements", "shards", "time us", "GB/s", "Mkeys/s", "efficiency", "shard->shard B",
                                  "to host B", "from host B", "syncs", "#wrong"};
    if (sorting) head.push_back("phases us");
    table t(head);
    bool any = false;
    for (auto& p : points)
      if (p.key == c.key) {
        any = true;
        std::vector<std::string> row{std::to_string(p.elements), std::to_string(p.shards), fixed(p.time_us, 1),
                                     fixed(p.throughput_gbps, 2),
                                     fixed(static_cast<double>(p.elements) / p.time_us, 1), fixed(p.efficiency, 2),
                                     std::to_string(p.moved.bytes_between_shards()),
                                     std::to_string(p.moved.bytes_to_host()), std::to_string(p.moved.bytes_from_host()),
                                     std::to_string(p.moved.host_syncs), p.wrong < 0 ? "N/A" : std::to_string(p.wrong)};
        if (sorting) {
          std::string phases;
          for (const char* ph : {"local", "splitters", "exchange_merge"})
            phases += (phases.empty() ? "" : " / ") + fixed(p.moved.phase_seconds(c.name + "." + ph) * 1e6, 0);
          row.push_back(phases);
        }
        t.row(row);
      }
    if (!any) continue;
    os << c.key << ": " << case_name(c) << '\n';
    t.print(os);
    os << '\n';
  }
}

inline json algorithms_json(const std::vector<algorithm_point>& points, const std::string& key, const sweep_settings& set) {
  json v = set.to_json("elements");
  json& list = v["points"] = json::array();
  for (auto& p : points) {
    if (p.key != key) continue;
    json e;
    e["algorithm"] = p.algorithm;
    e["shards"] = p.shards;
    e["elements"] = p.elements;
    e["time_us"] = json(p.time);
    e["throughput_gbps"] = p.throughput_gbps;
    e["keys_per_second"] = static_cast<double>(p.elements) / (p.time_us * 1e-6);
    e["efficiency"] = p.efficiency;
    e["bytes_between_shards"] = p.moved.bytes_between_shards();
    e["bytes_to_host"] = p.moved.bytes_to_host();
    e["bytes_from_host"] = p.moved.bytes_from_host();
    e["host_syncs"] = p.moved.host_syncs;
    e["launches"] = p.moved.total_launches();
    json phases = json::object();
    for (const auto& ph : p.moved.phases) phases[ph.name] = ph.seconds * 1e6;
    e["phases_us"] = phases;
    e["wrong"] = p.wrong;
    list.push_back(e);
  }
  return v;
}

inline void algorithm_records(const std::vector<algorithm_point>& points, std::vector<record>& out) {
  for (auto& p : points) {
    const std::string label = std::to_string(p.elements) + " elements, " + std::to_string(p.shards) + " shards";
    out.push_back(record{p.key, label, "time_us", "us", static_cast<double>(p.elements), p.time, p.wrong, false, false});
    figure gb;
    gb.value = p.throughput_gbps;
    gb.samples = p.time.samples;
    out.push_back(record{p.key, label, "throughput_gbps", "GB/s", static_cast<double>(p.elements), gb, p.wrong, true, false});
  }
}

inline void algorithms_svg(const std::string& dir, const std::vector<algorithm_point>& points, const std::string& where) {
  std::size_t G = 0;
  for (auto& p : points) G = std::max(G, p.shards);
  for (const auto& c : algorithm_cases()) {
    std::vector<svg::series> throughput;
    for (std::size_t g = 1; g <= G; ++g) {
      svg::series s{std::to_string(g) + " shard" + (g > 1 ? "s" : ""), {}};
      for (auto& p : points)
        if (p.key == c.key && p.shards == g) s.points.push_back({static_cast<double>(p.elements), p.throughput_gbps});
      if (!s.points.empty()) throughput.push_back(s);
    }
    if (!throughput.empty())
      svg::save(dir + "/" + c.key + ".svg",
                svg::line_plot(case_name(c) + ": throughput" + where, "elements", "GB/s (bytes read + written)", throughput));
  }
}

inline const family_registration algorithms_family{family{
    "algorithms",
    4,
    {{"transform", "algorithms", "shard::transform, float32, 1..G shards"},
     {"reduce", "algorithms", "shard::reduce, float32"},
     {"inclusive_scan", "algorithms", "shard::inclusive_scan, int64"},
     {"sort_int32", "algorithms", "shard::sort, int32 keys"},
     {"sort_int64", "algorithms", "shard::sort, int64 keys"},
     {"sort_by_key", "algorithms", "shard::sort_by_key, int32 keys and values"},
     {"merge_int32", "algorithms", "shard::merge, int32 keys, two sorted halves"},
     {"copy_if", "algorithms", "shard::copy_if, int32, half kept"},
     {"sort_timeline", "algorithms", "one sort's timeline per shard (primitives and copies, from the library's trace)"}},
    [](const target& tgt, const options& o, run_output& out) {
      if (selected(o, "sort_timeline")) out.tests["sort_timeline"] = run_sort_timeline(tgt, o, out);
      const auto points = run_algorithms(tgt, o);
      print_algorithms(out.os, points);
      for (const auto& c : algorithm_cases())
        if (selected(o, c.key)) out.tests[c.key] = algorithms_json(points, c.key, algorithm_settings(tgt, o));
      algorithm_records(points, out.records);
      if (!out.svg_dir.empty()) algorithms_svg(out.svg_dir, points, out.where);
    }}};

}  // namespace bench
