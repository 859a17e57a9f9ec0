#pragma once
// shard-bench algorithms: shard's algorithms over 1..G shards and a size sweep: time,
// throughput, scaling efficiency against one shard, and what each call moved (from stats).
#include "common.hpp"
#include "svg.hpp"

#include <functional>
#include <map>

namespace bench {

struct algorithm_point {
  std::string algorithm;
  std::size_t shards = 0, elements = 0;
  double time_us = 0, throughput_gbps = 0, efficiency = 0;
  shard::stats moved;  // of one call
};

/// An algorithm as the benchmark runs it: its element type, the bytes of memory it touches
/// per element, and a call that returns the seconds it took (a sort first restores its
/// unsorted input, untimed).
struct algorithm_case {
  std::string name;
  std::string type;
  double bytes_per_element;  // reads + writes
  std::function<std::function<double()>(shard::context&, std::size_t)> prepare;  // returns the call
};

struct scale_add_fn {
  SHARD_HOST_DEVICE float operator()(float x) const { return 2.0f * x + 1.0f; }
};
struct odd_fn {
  SHARD_HOST_DEVICE bool operator()(std::int32_t x) const { return (x & 1) != 0; }
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

/// A sort of fresh copies of the same random keys (of pairs when `pairs`).
template <class K>
std::function<std::function<double()>(shard::context&, std::size_t)> sort_case(bool pairs) {
  return [pairs](shard::context& ctx, std::size_t n) -> std::function<double()> {
    auto input = std::make_shared<shard::vector<K>>(ctx, random_keys<K>(n));
    auto keys = std::make_shared<shard::vector<K>>(ctx, n);
    auto values = std::make_shared<shard::vector<std::int32_t>>(ctx, pairs ? n : 0);
    return [input, keys, values, pairs, ctx]() mutable {
      shard::copy(*input, *keys);
      if (pairs) shard::iota(*values, 0);
      ctx.reset_stats();
      return seconds([&] {
        if (pairs) shard::sort_by_key(*keys, *values);
        else shard::sort(*keys);
      });
    };
  };
}

/// The algorithms measured: element-wise, reduction, scan, sorts and compaction.
inline std::vector<algorithm_case> algorithm_cases() {
  return {
      {"transform", "float32", 2 * sizeof(float),
       [](shard::context& ctx, std::size_t n) -> std::function<double()> {
         auto x = std::make_shared<shard::vector<float>>(ctx, n, 1.0f);
         auto y = std::make_shared<shard::vector<float>>(ctx, n);
         return [x, y] { return seconds([&] { shard::transform(*x, *y, scale_add_fn{}); }); };
       }},
      {"reduce", "float32", sizeof(float),
       [](shard::context& ctx, std::size_t n) -> std::function<double()> {
         auto x = std::make_shared<shard::vector<float>>(ctx, n, 1.0f);
         return [x] {
           return seconds([&] {
             volatile float sink = shard::reduce(*x);
             (void)sink;
           });
         };
       }},
      {"inclusive_scan", "int64", 2 * sizeof(std::int64_t),
       [](shard::context& ctx, std::size_t n) -> std::function<double()> {
         auto x = std::make_shared<shard::vector<std::int64_t>>(ctx, n, std::int64_t{1});
         auto y = std::make_shared<shard::vector<std::int64_t>>(ctx, n);
         return [x, y] { return seconds([&] { shard::inclusive_scan(*x, *y); }); };
       }},
      {"sort", "int32 keys", sizeof(std::int32_t), sort_case<std::int32_t>(false)},
      {"sort", "int64 keys", sizeof(std::int64_t), sort_case<std::int64_t>(false)},
      {"sort_by_key", "int32 keys, int32 values", 2 * sizeof(std::int32_t), sort_case<std::int32_t>(true)},
      {"copy_if", "int32, half kept", sizeof(std::int32_t),
       [](shard::context& ctx, std::size_t n) -> std::function<double()> {
         auto x = std::make_shared<shard::vector<std::int32_t>>(ctx, random_keys<std::int32_t>(n));
         auto y = std::make_shared<shard::vector<std::int32_t>>(ctx, 0);
         return [x, y] { return seconds([&] { shard::copy_if(*x, *y, odd_fn{}); }); };
       }},
  };
}

/// Key of a case in tables, JSON and pictures: "sort (int32 keys)".
inline std::string case_name(const algorithm_case& c) { return c.name + " (" + c.type + ")"; }

inline std::vector<algorithm_point> run_algorithms(const target& tgt, const options& o) {
  const std::size_t G = tgt.ctx.size();
  const std::size_t lo = o.min_elements ? o.min_elements : (o.quick ? 1024 : std::size_t{1} << 16);
  const std::size_t hi = o.max_elements ? o.max_elements
                                        : (o.quick ? std::size_t{1} << 14 : tgt.emulated ? std::size_t{1} << 22 : std::size_t{1} << 28);
  const std::size_t reps = o.reps ? o.reps : (o.quick ? 2 : tgt.emulated ? 5 : 20);
  if (lo > hi) throw usage_error("algorithms: --min-elements is larger than --max-elements");
  const auto sizes = sweep(lo, hi);
  const auto cases = algorithm_cases();
  std::vector<algorithm_point> out;
  progress bar("algorithms", cases.size() * G * sizes.size());
  for (std::size_t g = 1; g <= G; ++g) {
    shard::context ctx = g == G ? tgt.ctx : tgt.with(g);
    for (const auto& c : cases)
      for (std::size_t n : sizes) {
        bar.step();
        auto call = c.prepare(ctx, n);
        call();  // warm-up (pools, caches)
        std::vector<double> times;
        for (std::size_t r = 0; r < reps; ++r) {
          ctx.reset_stats();
          times.push_back(call());
        }
        algorithm_point p;
        p.algorithm = case_name(c);
        p.shards = g;
        p.elements = n;
        p.time_us = median(times) * 1e6;
        p.throughput_gbps = c.bytes_per_element * static_cast<double>(n) / (p.time_us * 1e-6) / 1e9;
        p.moved = ctx.stats();
        out.push_back(p);
      }
  }
  // Scaling efficiency: throughput on g shards over g times the throughput on one.
  std::map<std::pair<std::string, std::size_t>, double> one;
  for (auto& p : out)
    if (p.shards == 1) one[{p.algorithm, p.elements}] = p.throughput_gbps;
  for (auto& p : out) p.efficiency = p.throughput_gbps / (static_cast<double>(p.shards) * one[{p.algorithm, p.elements}]);
  return out;
}

inline void print_algorithms(std::ostream& os, const std::vector<algorithm_point>& points) {
  os << "== algorithms (throughput = bytes read and written / time, keys = elements / time; efficiency = "
        "throughput / (shards x throughput on 1 shard: the single-device baseline); moved = per call, from stats; "
        "sorts: their phases' times, local / splitters / exchange+merge)\n\n";
  for (const auto& c : algorithm_cases()) {
    const bool sorting = c.name.rfind("sort", 0) == 0;
    std::vector<std::string> head{"elements", "shards", "time us", "GB/s", "Mkeys/s", "efficiency", "shard->shard B",
                                  "to host B", "from host B", "syncs"};
    if (sorting) head.push_back("phases us");
    table t(head);
    for (auto& p : points)
      if (p.algorithm == case_name(c)) {
        std::vector<std::string> row{std::to_string(p.elements), std::to_string(p.shards), fixed(p.time_us, 1),
                                     fixed(p.throughput_gbps, 2),
                                     fixed(static_cast<double>(p.elements) / p.time_us, 1), fixed(p.efficiency, 2),
                                     std::to_string(p.moved.bytes_between_shards()),
                                     std::to_string(p.moved.bytes_to_host()), std::to_string(p.moved.bytes_from_host()),
                                     std::to_string(p.moved.host_syncs)};
        if (sorting) {
          std::string phases;
          for (const char* ph : {"local", "splitters", "exchange_merge"})
            phases += (phases.empty() ? "" : " / ") + fixed(p.moved.phase_seconds(c.name + "." + ph) * 1e6, 0);
          row.push_back(phases);
        }
        t.row(row);
      }
    os << case_name(c) << '\n';
    t.print(os);
    os << '\n';
  }
}

inline json::value algorithms_json(const std::vector<algorithm_point>& points) {
  json::value v = json::value::array();
  for (auto& p : points) {
    json::value& e = v.push(json::value::object());
    e["algorithm"] = p.algorithm;
    e["shards"] = p.shards;
    e["elements"] = p.elements;
    e["time_us"] = p.time_us;
    e["throughput_gbps"] = p.throughput_gbps;
    e["efficiency"] = p.efficiency;
    e["bytes_between_shards"] = p.moved.bytes_between_shards();
    e["bytes_to_host"] = p.moved.bytes_to_host();
    e["bytes_from_host"] = p.moved.bytes_from_host();
    e["host_syncs"] = p.moved.host_syncs;
    e["launches"] = p.moved.total_launches();
    e["keys_per_second"] = static_cast<double>(p.elements) / (p.time_us * 1e-6);
    json::value& phases = e["phases_us"] = json::value::object();
    for (const auto& ph : p.moved.phases) phases[ph.name] = ph.seconds * 1e6;
  }
  return v;
}

inline void algorithms_svg(const std::string& dir, const std::vector<algorithm_point>& points, const std::string& where) {
  std::vector<svg::series> throughput, efficiency;
  std::size_t G = 0;
  for (auto& p : points) G = std::max(G, p.shards);
  for (const auto& c : algorithm_cases())
    for (std::size_t g = 1; g <= G; ++g) {
      svg::series s{case_name(c) + ", " + std::to_string(g) + " shard" + (g > 1 ? "s" : ""), {}};
      svg::series e = s;
      for (auto& p : points)
        if (p.algorithm == case_name(c) && p.shards == g) {
          s.points.push_back({static_cast<double>(p.elements), p.throughput_gbps});
          e.points.push_back({static_cast<double>(p.elements), p.efficiency});
        }
      throughput.push_back(s);
      if (g > 1) efficiency.push_back(e);
    }
  svg::save(dir + "/algorithms_throughput.svg",
            svg::line_plot("Algorithms: throughput" + where, "elements", "GB/s (bytes read + written)", throughput));
  svg::save(dir + "/algorithms_efficiency.svg",
            svg::line_plot("Algorithms: scaling efficiency vs 1 shard" + where, "elements", "efficiency", efficiency));
}

}  // namespace bench
