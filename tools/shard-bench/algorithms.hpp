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

/// An algorithm as the benchmark runs it: bytes of memory it touches per element, and a call.
struct algorithm_case {
  std::string name;
  double bytes_per_element;  // reads + writes
  std::function<std::function<void()>(shard::context&, std::size_t)> prepare;  // returns the call
};

struct scale_add_fn {
  SHARD_HOST_DEVICE float operator()(float x) const { return 2.0f * x + 1.0f; }
};

/// The algorithms that exist so far. scan and sort join this list when they land.
inline std::vector<algorithm_case> algorithm_cases() {
  return {
      {"transform", 2 * sizeof(float),
       [](shard::context& ctx, std::size_t n) -> std::function<void()> {
         auto x = std::make_shared<shard::vector<float>>(ctx, n, 1.0f);
         auto y = std::make_shared<shard::vector<float>>(ctx, n);
         return [x, y] { shard::transform(*x, *y, scale_add_fn{}); };
       }},
      {"reduce", sizeof(float),
       [](shard::context& ctx, std::size_t n) -> std::function<void()> {
         auto x = std::make_shared<shard::vector<float>>(ctx, n, 1.0f);
         return [x] {
           volatile float sink = shard::reduce(*x);
           (void)sink;
         };
       }},
  };
}

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
          times.push_back(seconds(call));
        }
        algorithm_point p;
        p.algorithm = c.name;
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
  os << "== algorithms (float32; throughput = bytes read and written / time; efficiency = throughput / (shards x "
        "throughput on 1 shard); moved = per call, from stats)\n\n";
  for (const auto& c : algorithm_cases()) {
    table t({"elements", "shards", "time us", "GB/s", "efficiency", "shard->shard B", "to host B", "from host B", "syncs"});
    for (auto& p : points)
      if (p.algorithm == c.name)
        t.row({std::to_string(p.elements), std::to_string(p.shards), fixed(p.time_us, 1), fixed(p.throughput_gbps, 2),
               fixed(p.efficiency, 2), std::to_string(p.moved.bytes_between_shards()), std::to_string(p.moved.bytes_to_host()),
               std::to_string(p.moved.bytes_from_host()), std::to_string(p.moved.host_syncs)});
    os << c.name << '\n';
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
  }
  return v;
}

inline void algorithms_svg(const std::string& dir, const std::vector<algorithm_point>& points, const std::string& where) {
  std::vector<svg::series> throughput, efficiency;
  std::size_t G = 0;
  for (auto& p : points) G = std::max(G, p.shards);
  for (const auto& c : algorithm_cases())
    for (std::size_t g = 1; g <= G; ++g) {
      svg::series s{c.name + ", " + std::to_string(g) + " shard" + (g > 1 ? "s" : ""), {}};
      svg::series e = s;
      for (auto& p : points)
        if (p.algorithm == c.name && p.shards == g) {
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
