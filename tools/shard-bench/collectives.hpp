#pragma once
// shard-bench collectives: all-reduce, all-gather, reduce-scatter, all-to-all and broadcast
// over a size sweep, on shard's own transport (copies) always and on NCCL where it can run.
// Figures as nccl-tests reports them: size is the per-rank buffer nccl-tests names (the
// whole output of all-gather, the whole input of reduce-scatter and all-to-all), algbw =
// size / time, busbw = algbw x the collective's factor (all-reduce 2(G-1)/G; all-gather,
// reduce-scatter, all-to-all (G-1)/G; broadcast 1).
#include "common.hpp"
#include "svg.hpp"

#include <shard/detail/buffer.hpp>
#include <shard/detail/skeleton/collectives.hpp>
#include <shard/transport/collectives.hpp>

#include <map>

namespace bench {

struct collective_point {
  std::string collective, engine;
  std::size_t bytes = 0;  // nccl-tests' "size"
  double time_us = 0, algbw_gbps = 0, busbw_gbps = 0;
};

inline const std::vector<std::string>& collective_names() {
  static const std::vector<std::string> names{"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast"};
  return names;
}

inline double bus_factor(const std::string& collective, std::size_t g) {
  const double n = static_cast<double>(g);
  if (collective == "all_reduce") return 2 * (n - 1) / n;
  if (collective == "broadcast") return 1;
  return (n - 1) / n;
}

namespace collectives_detail {

using shard::transport::engine;
using element = float;

/// One call of `collective` with `bytes` as its size, on `how`. Buffers are allocated by the
/// caller, large enough for every collective at this size.
inline void run_once(shard::detail::context_impl& impl, const std::string& collective, std::size_t bytes, engine how,
                     const std::vector<element*>& a, const std::vector<element*>& b) {
  const std::size_t g = impl.size();
  const std::size_t count = bytes / sizeof(element);
  const std::vector<const element*> ca(a.begin(), a.end());
  if (collective == "all_reduce") {
    shard::detail::all_reduce(impl, a, count, shard::plus<>{}, how);
  } else if (collective == "reduce_scatter") {
    shard::detail::reduce_scatter(impl, ca, b, count / g, shard::plus<>{}, how);
  } else if (collective == "all_gather") {
    shard::detail::run_and_wait(impl, [&] { shard::transport::all_gather(impl, ca, count / g, b, how); });
  } else if (collective == "all_to_all") {
    shard::detail::run_and_wait(impl, [&] { shard::transport::all_to_all(impl, ca, count / g, b, how); });
  } else {
    shard::detail::run_and_wait(impl, [&] { shard::transport::broadcast(impl, 0, a, count, how); });
  }
}

}  // namespace collectives_detail

inline std::vector<collective_point> run_collectives(const target& tgt, const options& o) {
  using collectives_detail::element;
  const auto& ctx = tgt.ctx;
  auto& impl = ctx.impl();
  const std::size_t g = ctx.size();
  const std::size_t lo = o.min_bytes ? o.min_bytes : 1024;
  const std::size_t hi = o.max_bytes ? o.max_bytes : (o.quick ? std::size_t{64} << 10 : tgt.emulated ? std::size_t{16} << 20 : std::size_t{1} << 30);
  const std::size_t reps = o.reps ? o.reps : (o.quick ? 2 : tgt.emulated ? 5 : 20);
  if (lo > hi) throw usage_error("collectives: --min-bytes is larger than --max-bytes");
  std::vector<std::pair<std::string, shard::transport::engine>> engines{{"shard", shard::transport::engine::copies}};
  if (shard::transport::nccl_available(impl)) engines.push_back({"nccl", shard::transport::engine::nccl});
  const auto sizes = sweep(lo, hi);
  std::vector<shard::detail::device_buffer<element>> owned_a, owned_b;
  std::vector<element*> a, b;
  const std::size_t capacity = hi / sizeof(element) + g;
  for (std::size_t s = 0; s < g; ++s) {
    owned_a.emplace_back(impl, s, capacity);
    owned_b.emplace_back(impl, s, capacity);
    a.push_back(owned_a.back().data());
    b.push_back(owned_b.back().data());
  }
  // Defined contents (ones): the all-reduce must not add up garbage such as NaNs.
  shard::detail::on_all_shards(impl, [&](std::size_t s) {
    shard::detail::launch(impl, s, [&](auto& dev) {
      shard::detail::primitive::for_each_index(dev, capacity, shard::detail::fill_fn<element>{a[s], element(1)});
    });
  });
  std::vector<collective_point> out;
  progress bar("collectives", collective_names().size() * engines.size() * sizes.size());
  for (const auto& name : collective_names())
    for (const auto& [engine_name, how] : engines)
      for (std::size_t bytes : sizes) {
        bar.step();
        // Sizes below one element per shard mean nothing for the split collectives.
        if (bytes / sizeof(element) < g) continue;
        const std::size_t used = (name == "all_reduce" || name == "broadcast") ? bytes / sizeof(element) * sizeof(element)
                                                                                : bytes / sizeof(element) / g * g * sizeof(element);
        collectives_detail::run_once(impl, name, used, how, a, b);  // warm-up
        const double t = seconds([&] {
          for (std::size_t r = 0; r < reps; ++r) collectives_detail::run_once(impl, name, used, how, a, b);
        }) / static_cast<double>(reps);
        collective_point p;
        p.collective = name;
        p.engine = engine_name;
        p.bytes = used;
        p.time_us = t * 1e6;
        p.algbw_gbps = static_cast<double>(used) / t / 1e9;
        p.busbw_gbps = p.algbw_gbps * bus_factor(name, g);
        out.push_back(p);
      }
  return out;
}

inline void print_collectives(std::ostream& os, const std::vector<collective_point>& points, std::size_t g) {
  os << "== collectives over " << g << " shards (float32; size, algbw and busbw as nccl-tests reports them)\n\n";
  for (const auto& name : collective_names()) {
    std::vector<std::string> engines;
    for (auto& p : points)
      if (p.collective == name && std::find(engines.begin(), engines.end(), p.engine) == engines.end()) engines.push_back(p.engine);
    if (engines.empty()) continue;
    std::vector<std::string> header{"size"};
    for (auto& e : engines) header.insert(header.end(), {e + " time us", e + " algbw GB/s", e + " busbw GB/s"});
    table t(header);
    std::map<std::size_t, std::vector<std::string>> rows;
    for (auto& p : points) {
      if (p.collective != name) continue;
      auto& row = rows[p.bytes];
      if (row.empty()) row.push_back(human_bytes(static_cast<double>(p.bytes)));
      row.insert(row.end(), {fixed(p.time_us, 1), fixed(p.algbw_gbps, 2), fixed(p.busbw_gbps, 2)});
    }
    for (auto& [bytes, row] : rows) t.row(row);
    os << name << " (busbw factor " << fixed(bus_factor(name, g), 3) << ")\n";
    t.print(os);
    os << '\n';
  }
}

inline json::value collectives_json(const std::vector<collective_point>& points) {
  json::value v = json::value::array();
  for (auto& p : points) {
    json::value& e = v.push(json::value::object());
    e["collective"] = p.collective;
    e["engine"] = p.engine;
    e["bytes"] = p.bytes;
    e["time_us"] = p.time_us;
    e["algbw_gbps"] = p.algbw_gbps;
    e["busbw_gbps"] = p.busbw_gbps;
  }
  return v;
}

inline void collectives_svg(const std::string& dir, const std::vector<collective_point>& points, const std::string& where) {
  std::vector<svg::series> busbw, latency;
  for (const auto& name : collective_names())
    for (const std::string engine : {"shard", "nccl"}) {
      svg::series s{name + " (" + engine + ")", {}}, t{name + " (" + engine + ")", {}};
      for (auto& p : points)
        if (p.collective == name && p.engine == engine) {
          s.points.push_back({static_cast<double>(p.bytes), p.busbw_gbps});
          t.points.push_back({static_cast<double>(p.bytes), p.time_us});
        }
      if (!s.points.empty()) busbw.push_back(s), latency.push_back(t);
    }
  svg::save(dir + "/collectives_busbw.svg", svg::line_plot("Collectives: bus bandwidth" + where, "size (bytes)", "busbw, GB/s", busbw));
  svg::save(dir + "/collectives_time.svg", svg::line_plot("Collectives: time per call" + where, "size (bytes)", "time, us (log scale)", latency, true));
}

}  // namespace bench
