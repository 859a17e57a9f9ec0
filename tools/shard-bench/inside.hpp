#pragma once
// Two tests that look inside the shards (registered by the topo and algorithms families):
// - balance: each shard's speed from shard's calibration (a transform and a sort of a fixed
//   size, all shards at once) and the balanced layout it chooses (shard::balanced), checked by
//   a vector laid out by it;
// - sort_timeline: one sort's timeline per shard from the library's trace (the primitives and
//   copies each shard ran, by phase), checked as sorted.
#include "common.hpp"
#include "svg.hpp"

#include <shard/balance.hpp>
#include <shard/sort.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

/// The layout of this many floats is the one reported (1 GiB: a size that fills GPUs unevenly).
inline constexpr std::size_t balance_reference_elements = std::size_t{1} << 28;

inline json run_balance(const target& tgt, const options& o, run_output& out) {
  const auto& ctx = tgt.ctx;
  const std::size_t g = ctx.size();
  shard::calibration_options c_opts;
  if (o.quick) c_opts = {std::size_t{1} << 16, std::size_t{1} << 13, 2};
  const auto cal = shard::calibrate(ctx, c_opts);
  const auto layout = shard::balanced(ctx);
  const auto free_bytes = shard::free_memory(ctx);
  // The layout of the reference size, unless it does not fit: then of what does (half of all
  // the free memory).
  std::size_t reference = balance_reference_elements;
  std::uint64_t room = 0;
  bool limited = false;
  for (auto f : free_bytes) {
    if (f == shard::distribution::no_limit) limited = true;
    else room += f;
  }
  if (!limited && room / sizeof(float) < reference) reference = static_cast<std::size_t>(room / sizeof(float) / 2);
  const auto sizes = layout.sizes(reference, g, sizeof(float));
  // The check: a vector laid out by it (a smaller one, scaled), its sum.
  const std::size_t n = o.quick ? 100003 : 10000019;
  const auto small = layout.sizes(n, g, sizeof(std::int64_t));
  shard::vector<std::int64_t> v(ctx, n, shard::distribution::explicit_sizes(small));
  shard::iota(v, std::int64_t{0});
  const std::int64_t expected = static_cast<std::int64_t>(n) * static_cast<std::int64_t>(n - 1) / 2;
  const long long wrong = shard::reduce(v) == expected && v.segment_sizes() == small ? 0 : 1;

  out.os << "== balance: each shard's speed (calibration: transform of " << cal.transform_elements
         << " floats, sort of " << cal.sort_elements << " uint32 keys; fastest = 1) and the balanced layout of "
         << reference << " floats\n";
  table t({"shard", "device", "speed", "transform ms", "sort ms", "free bytes", "layout elements", "share", "#wrong"});
  json shards = json::array();
  for (std::size_t s = 0; s < g; ++s) {
    const double share = reference ? static_cast<double>(sizes[s]) / static_cast<double>(reference) : 0;
    t.row({std::to_string(s), std::to_string(ctx.device(s)), fixed(cal.speed[s], 3), fixed(cal.transform_ms[s], 3),
           fixed(cal.sort_ms[s], 3), free_bytes[s] == shard::distribution::no_limit ? "unknown" : std::to_string(free_bytes[s]),
           std::to_string(sizes[s]), fixed(share, 3), s == 0 ? std::to_string(wrong) : ""});
    shards.push_back(json{{"shard", s}, {"speed", cal.speed[s]}, {"transform_ms", cal.transform_ms[s]},
                          {"sort_ms", cal.sort_ms[s]},
                          {"free_bytes", free_bytes[s] == shard::distribution::no_limit ? json(nullptr) : json(free_bytes[s])},
                          {"layout_elements", sizes[s]}});
    figure f;
    f.value = cal.speed[s];
    f.samples = 1;
    out.records.push_back(record{"balance", "shard " + std::to_string(s), "speed", "relative", 0, f, wrong, true, false});
  }
  t.print(out.os);
  out.os << '\n';
  if (!out.svg_dir.empty()) {
    std::vector<std::vector<double>> m(2, std::vector<double>(g, 0));
    for (std::size_t s = 0; s < g; ++s) {
      m[0][s] = cal.speed[s];
      m[1][s] = reference ? static_cast<double>(sizes[s]) / static_cast<double>(reference) : 0;
    }
    std::vector<std::string> cols;
    for (std::size_t s = 0; s < g; ++s) cols.push_back("shard " + std::to_string(s));
    svg::save(out.svg_dir + "/balance.svg",
              svg::heatmap("speed and balanced layout share" + out.where, "", m, {"speed", "share"}, cols));
  }
  return json{{"transform_elements", cal.transform_elements},
              {"sort_elements", cal.sort_elements},
              {"reference_elements", reference},
              {"shards", shards},
              {"points", json::array({json{{"elements", n}, {"wrong", wrong}}})}};
}

/// One sort, traced: each shard's primitives and copies on a timeline.
inline json run_sort_timeline(const target& tgt, const options& o, run_output& out) {
  auto ctx = tgt.ctx;
  const std::size_t g = ctx.size();
  const std::size_t n = o.quick ? std::size_t{1} << 16 : std::size_t{1} << 24;
  std::vector<std::int32_t> host(n);
  std::uint32_t x = 2463534242u;
  for (auto& k : host) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    k = static_cast<std::int32_t>(x);
  }
  shard::vector<std::int32_t> v(ctx, host);
  shard::sort(v);  // warm: the traced sort is the second
  shard::copy(std::span<const std::int32_t>(host), v);
  ctx.reset_stats();
  ctx.start_trace();
  shard::sort(v);
  const auto stats = ctx.stats();
  const json trace = json::parse(ctx.trace_json());
  ctx.stop_trace();
  const auto result = v.to_host();
  std::sort(host.begin(), host.end());
  long long wrong = 0;
  for (std::size_t i = 0; i < n; ++i) wrong += result[i] != host[i] ? 1 : 0;

  // The spans, from the start of the sort call.
  double start = 0;
  for (const auto& e : trace.at("traceEvents"))
    if (e.value("cat", "") == "call") {
      start = e.at("ts").get<double>();
      break;
    }
  std::vector<svg::span> spans;
  std::map<int, double> busy_us;
  for (const auto& e : trace.at("traceEvents")) {
    const std::string cat = e.value("cat", "");
    if (cat != "primitive" && cat != "copy") continue;
    const int row = e.at("tid").get<int>() - 100;
    const double b = e.at("ts").get<double>() - start, d = e.at("dur").get<double>();
    spans.push_back(svg::span{row, b, b + d, e.at("name").get<std::string>(), cat == "copy"});
    busy_us[row] += d;
  }
  out.os << "== sort_timeline: one sort of " << n << " int32 keys, traced (context::start_trace)\n";
  table t({"shard", "busy ms", "utilisation", "sent B", "received B", "#wrong"});
  json shards = json::array();
  for (std::size_t s = 0; s < g; ++s) {
    const bool mine = ctx.is_local(s);
    t.row({std::to_string(s), mine ? fixed(stats.busy_seconds[s] * 1e3, 3) : "-",
           mine ? fixed(stats.utilisation(s), 2) : "-", std::to_string(stats.bytes_sent(s)),
           std::to_string(stats.bytes_received(s)), s == 0 ? std::to_string(wrong) : ""});
    shards.push_back(json{{"shard", s}, {"busy_ms", stats.busy_seconds[s] * 1e3}, {"utilisation", stats.utilisation(s)},
                          {"bytes_sent", stats.bytes_sent(s)}, {"bytes_received", stats.bytes_received(s)}});
  }
  t.print(out.os);
  out.os << "phases:";
  for (const auto& p : stats.phases) out.os << ' ' << p.name << ' ' << fixed(p.seconds * 1e3, 3) << " ms;";
  out.os << "\n\n";
  figure f;
  f.value = stats.call_seconds("shard::stable_sort") * 1e6;
  f.samples = 1;
  out.records.push_back(record{"sort_timeline", std::to_string(n) + " elements, " + std::to_string(g) + " shards",
                               "time_us", "us", static_cast<double>(n), f, wrong, false, false});
  if (!out.svg_dir.empty()) {
    std::vector<std::string> rows;
    for (std::size_t s = 0; s < g; ++s) rows.push_back("shard " + std::to_string(s));
    svg::save(out.svg_dir + "/sort_timeline.svg", svg::timeline("one sort, per shard" + out.where, rows, spans));
  }
  return json{{"elements", n}, {"time_us", f.value}, {"shards", shards}, {"spans", spans.size()},
              {"points", json::array({json{{"elements", n}, {"wrong", wrong}}})}};
}

}  // namespace bench
