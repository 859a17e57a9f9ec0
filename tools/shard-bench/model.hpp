#pragma once
// shard-bench model: a machine (a small JSON file, or a preset) and an algorithm's stats
// give a projected time per phase. The stats are those the algorithm really produces: it
// runs on emulated devices with the machine's GPU count (the counters are the same on every
// backend by contract), so the projection needs no GPU.
//
// Phases (added, no overlap assumed):
//   local memory   max over shards of (segment x bytes per element + 2 x local copies) / B_mem;
//                  calibrated instead, where this machine measured the algorithm on one shard
//                  (shard-bench all): the one-shard time of a segment's size (log-log
//                  interpolated; on emulated shards, which share one memory and cache, the
//                  segment's share of the one-shard time of all n elements), times the
//                  shards that share a processor (emulated shards on C cores: G / min(G, C))
//   launches       max over shards of launches x launch latency
//   shard->shard   max over destinations of sum over sources (bytes / B_link + latency):
//                  the transport pulls on the destination's queue, one transfer after another
//   host transfers max over shards of (bytes to and from the host) / B_host + latency each way
//   host syncs     syncs x sync latency
//   merge passes   sorts and merge: each shard merges the R runs it received level by level
//                  (core/merge_tree.hpp: ceil(log2 R) levels, each over the whole segment,
//                  however small some runs are), less the levels a one-shard call does too
//                  (its calibration holds them). R: the sources that sent the shard elements
//                  (its own local copy included); each sends at least one run (the merge's
//                  may send two, one of each input, which the stats do not tell apart: a
//                  lower bound). A level costs half the calibrated one-shard merge of the
//                  segment (that call copies its two runs in and merges them: two passes),
//                  scaled to the element size, or else 2 x segment x bytes per element / B_mem
#include "algorithms.hpp"
#include "collectives.hpp"
#include "common.hpp"
#include "links.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

namespace bench {

struct machine {
  std::string name;
  std::size_t gpus = 0;
  double memory_bandwidth_gbps = 0;      // per GPU, achievable (copy-kernel) rate
  std::vector<double> link_gbps;         // gpus x gpus, one direction
  std::vector<double> link_latency_us;   // gpus x gpus
  double host_bandwidth_gbps = 0;        // GPU <-> host, each direction
  double host_latency_us = 0;
  double launch_latency_us = 0;          // one device-wide primitive
  double sync_latency_us = 0;            // one host wait on all shards
  double collective_latency_us = 0;      // a small collective (all-reduce of a few bytes)
};

/// `nodes` machines of `per_node` GPUs: links within a node at `link` GB/s, between nodes at
/// `network` GB/s per GPU (400 Gb/s InfiniBand: about 50 GB/s) with `network_latency` us;
/// a host sync across nodes costs an agreement between the ranks as well (`sync`).
inline machine cluster_machine(std::string name, std::size_t nodes, std::size_t per_node, double mem, double link,
                               double link_lat, double network, double network_lat, double host, double host_lat,
                               double launch, double sync, double collective) {
  const std::size_t g = nodes * per_node;
  machine m{std::move(name), g, mem, {}, {}, host, host_lat, launch, sync, collective};
  for (std::size_t a = 0; a < g; ++a)
    for (std::size_t b = 0; b < g; ++b) {
      const bool same_node = a / per_node == b / per_node;
      m.link_gbps.push_back(same_node ? link : network);
      m.link_latency_us.push_back(same_node ? link_lat : network_lat);
    }
  return m;
}

inline machine uniform_machine(std::string name, std::size_t gpus, double mem, double link, double link_lat, double host,
                               double host_lat, double launch, double sync, double collective) {
  machine m{std::move(name), gpus, mem, std::vector<double>(gpus * gpus, link), std::vector<double>(gpus * gpus, link_lat),
            host, host_lat, launch, sync, collective};
  return m;
}

/// Presets from published figures (docs/benchmarks.md cites them).
inline machine preset(const std::string& name) {
  // DGX H100: 8 x H100 SXM5 on NVSwitch; HBM3 3.35 TB/s peak, ~2.8 TB/s achieved by copy
  // kernels; NVLink 4 ~375 GB/s one way per pair (p2pBandwidthLatencyTest), 2-3 us; PCIe
  // Gen5 x16 to the host; NCCL all-reduce latency of small messages ~15 us.
  if (name == "dgx-h100") return uniform_machine("DGX H100 (8x H100 SXM5, NVLink 4 + NVSwitch)", 8, 2800, 375, 2.5, 50, 8, 4, 10, 15);
  // A PCIe box: 4 GPUs of ~1.5 TB/s behind PCIe Gen4 switches; P2P ~25 GB/s, ~10 us.
  if (name == "pcie-4gpu") return uniform_machine("4 GPUs on PCIe Gen4 (peer copies through PCIe switches)", 4, 1500, 25, 10, 25, 10, 5, 10, 30);
  // DGX H100 nodes on 400 Gb/s InfiniBand, one NIC per GPU: ~50 GB/s per GPU between nodes,
  // ~5 us; a step across ranks adds an agreement (an MPI all-gather across the nodes, ~20 us).
  if (name == "2x8-h100-ib")
    return cluster_machine("2 x DGX H100 (NVLink 4 within a node, 400 Gb/s InfiniBand between)", 2, 8, 2800, 375, 2.5, 50,
                           5, 50, 8, 4, 30, 40);
  if (name == "4x8-h100-ib")
    return cluster_machine("4 x DGX H100 (NVLink 4 within a node, 400 Gb/s InfiniBand between)", 4, 8, 2800, 375, 2.5, 50,
                           5, 50, 8, 4, 35, 50);
  throw usage_error("model: unknown preset \"" + name + "\" (known: dgx-h100, pcie-4gpu, 2x8-h100-ib, 4x8-h100-ib)");
}

inline json machine_json(const machine& m) {
  json v;
  v["name"] = m.name;
  v["gpus"] = m.gpus;
  v["memory_bandwidth_gbps"] = m.memory_bandwidth_gbps;
  auto square = [&](const std::vector<double>& flat) {
    json rows = json::array();
    for (std::size_t a = 0; a < m.gpus; ++a)
      rows.push_back(std::vector<double>(flat.begin() + static_cast<std::ptrdiff_t>(a * m.gpus),
                                         flat.begin() + static_cast<std::ptrdiff_t>((a + 1) * m.gpus)));
    return rows;
  };
  v["link_bandwidth_gbps"] = square(m.link_gbps);
  v["link_latency_us"] = square(m.link_latency_us);
  v["host_bandwidth_gbps"] = m.host_bandwidth_gbps;
  v["host_latency_us"] = m.host_latency_us;
  v["launch_latency_us"] = m.launch_latency_us;
  v["sync_latency_us"] = m.sync_latency_us;
  v["collective_latency_us"] = m.collective_latency_us;
  return v;
}

/// A number member of a JSON object, with a message naming it when it is missing or not a number.
inline double number_at(const json& v, const std::string& what, const char* key) {
  if (!v.is_object() || !v.contains(key)) throw std::runtime_error(what + ": missing member \"" + key + "\"");
  const json& x = v.at(key);
  if (!x.is_number()) throw std::runtime_error(what + ": \"" + key + "\" must be a number");
  return x.get<double>();
}

/// Reads a machine; link figures may be one number (every pair) or a gpus x gpus matrix.
inline machine machine_from_json(const json& v) {
  machine m;
  m.name = v.contains("name") && v.at("name").is_string() ? v.at("name").get<std::string>() : "unnamed machine";
  const double gpus = number_at(v, "machine", "gpus");
  if (gpus < 1 || gpus != std::floor(gpus)) throw std::runtime_error("machine: \"gpus\" must be a positive integer");
  m.gpus = static_cast<std::size_t>(gpus);
  auto positive = [&](const char* key) {
    const double x = number_at(v, "machine", key);
    if (!(x > 0)) throw std::runtime_error(std::string("machine: \"") + key + "\" must be positive");
    return x;
  };
  auto pairs = [&](const char* key) {
    if (!v.contains(key)) throw std::runtime_error(std::string("machine: missing member \"") + key + "\"");
    const json& x = v.at(key);
    if (x.is_number()) return std::vector<double>(m.gpus * m.gpus, x.get<double>());
    std::vector<std::vector<double>> rows;
    try {
      rows = matrix_from_json(x);
    } catch (const std::exception&) {
      throw std::runtime_error(std::string("machine: \"") + key + "\" must be a number or a gpus x gpus matrix");
    }
    if (rows.size() != m.gpus) throw std::runtime_error(std::string("machine: \"") + key + "\" must have gpus rows");
    std::vector<double> flat;
    for (auto& r : rows) {
      if (r.size() != m.gpus) throw std::runtime_error(std::string("machine: \"") + key + "\" must have gpus columns");
      flat.insert(flat.end(), r.begin(), r.end());
    }
    return flat;
  };
  m.memory_bandwidth_gbps = positive("memory_bandwidth_gbps");
  m.link_gbps = pairs("link_bandwidth_gbps");
  m.link_latency_us = pairs("link_latency_us");
  m.host_bandwidth_gbps = positive("host_bandwidth_gbps");
  m.host_latency_us = number_at(v, "machine", "host_latency_us");
  m.launch_latency_us = number_at(v, "machine", "launch_latency_us");
  m.sync_latency_us = number_at(v, "machine", "sync_latency_us");
  m.collective_latency_us = number_at(v, "machine", "collective_latency_us");
  return m;
}

/// A JSON file, parsed; errors name the file and nlohmann_json's reason (with its byte offset).
inline json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

/// The matrix of panel `panel` of test `key` in a shard-bench document (its "tests" member).
inline std::vector<std::vector<double>> test_matrix(const json& doc, const std::string& key, const std::string& panel) {
  if (!doc.contains("tests") || !doc.at("tests").contains(key))
    throw std::runtime_error("p2p data: no test \"" + key + "\" (run shard-bench p2p with it)");
  const json& t = doc.at("tests").at(key);
  if (!t.contains("panels") || !t.at("panels").contains(panel)) throw std::runtime_error("p2p data: test \"" + key + "\" has no " + panel);
  return matrix_from_json(t.at("panels").at(panel).at("matrix"));
}

/// A machine from a p2p measurement (shard-bench p2p --json): links from the unidirectional
/// copy-engine bandwidth and the latency with peer access; memory bandwidth from the copies
/// within one shard (counted read + write, the rate a copy kernel reaches); host bandwidth
/// from the staged route, whose chunks cross to the host and back; launch and sync latency
/// from the p2p run's own measurements of them.
inline machine machine_from_p2p(const json& doc, const std::string& name) {
  const auto uni = test_matrix(doc, "p2p_bw_ce", "gbps");
  const auto lat = test_matrix(doc, "p2p_latency", "latency_us");
  const auto staged = test_matrix(doc, "p2p_bw_staged", "gbps");
  const auto staged_lat = test_matrix(doc, "p2p_latency_staged", "latency_us");
  const std::size_t g = uni.size();
  if (g == 0 || lat.size() != g || staged.size() != g || staged_lat.size() != g)
    throw std::runtime_error("p2p data: matrices of different sizes");
  machine m;
  m.name = name;
  m.gpus = g;
  double diag = 0, diag_lat = 0, off = 0, off_lat = 0;
  std::size_t offs = 0;
  for (std::size_t a = 0; a < g; ++a) {
    diag += uni[a][a] / static_cast<double>(g);
    diag_lat += lat[a][a] / static_cast<double>(g);
    for (std::size_t b = 0; b < g; ++b) {
      m.link_gbps.push_back(uni[a][b]);
      m.link_latency_us.push_back(lat[a][b]);
      if (a != b) off += staged[a][b], off_lat += staged_lat[a][b], ++offs;
    }
  }
  m.memory_bandwidth_gbps = diag;
  // A staged copy crosses to the host and back, pipelined: its rate is about the slower half.
  m.host_bandwidth_gbps = offs ? off / static_cast<double>(offs) : m.memory_bandwidth_gbps;
  m.host_latency_us = offs ? off_lat / static_cast<double>(offs) / 2 : diag_lat;
  // Launch and sync latency: measured by p2p where present; else a small copy's latency.
  const json* costs = doc.contains("tests") && doc.at("tests").contains("p2p_latency") ? &doc.at("tests").at("p2p_latency") : nullptr;
  const auto measured = [&](const char* key) { return costs && costs->contains(key) && costs->at(key).is_number(); };
  m.launch_latency_us = measured("launch_us") ? costs->at("launch_us").get<double>() : diag_lat;
  m.sync_latency_us = measured("sync_us") ? costs->at("sync_us").get<double>() : diag_lat;
  // A collective on the copies engine: one host wait, and each destination pulls G-1
  // blocks one after another.
  double peer_lat = 0;
  for (std::size_t a = 0; a < g; ++a)
    for (std::size_t b = 0; b < g; ++b)
      if (a != b) peer_lat = std::max(peer_lat, lat[a][b]);
  m.collective_latency_us = m.sync_latency_us + static_cast<double>(g - 1) * peer_lat;
  return m;
}

struct phase {
  std::string name;
  double bytes = 0;
  double us = 0;
};

/// One-shard figures measured on the machine the model describes: per algorithm, (elements,
/// time of one call in us) at each measured size, and how many shards compute at once there
/// (the cores, for emulated shards; the GPUs otherwise).
struct calibration {
  std::map<std::string, std::vector<std::pair<double, double>>> one_shard_us;
  std::size_t parallel_shards = 1;
  /// The shards share one memory and cache (emulated devices on the host): a segment then
  /// costs its share of the one-shard time of all n elements (G segments of n / G stream
  /// through one cache like one array of n), not the one-shard time of n / G, which may fit
  /// in the cache. GPUs have a memory each: the one-shard time of the segment itself.
  bool shared_memory = false;

  /// The one-shard time of `algorithm` at `elements`, log-log interpolated between the
  /// measured sizes (extrapolated from the nearest two); NAN when it was not measured.
  double at(const std::string& algorithm, double elements) const {
    const auto it = one_shard_us.find(algorithm);
    if (it == one_shard_us.end() || it->second.empty()) return NAN;
    auto points = it->second;
    std::sort(points.begin(), points.end());
    if (points.size() == 1 || elements <= 0) return points.front().second * std::max(elements, 1.0) / points.front().first;
    std::size_t i = 1;
    while (i + 1 < points.size() && points[i].first < elements) ++i;
    const auto [x0, y0] = points[i - 1];
    const auto [x1, y1] = points[i];
    const double slope = std::log(y1 / y0) / std::log(x1 / x0);
    return y0 * std::exp(slope * std::log(elements / x0));
  }
};

/// The levels of two-way merges that merge `runs` sorted runs into one: ceil(log2 runs), 0
/// for one run or none (core/merge_tree.hpp).
inline std::size_t merge_passes(std::size_t runs) {
  std::size_t passes = 0;
  for (; runs > 1; runs = (runs + 1) / 2) ++passes;
  return passes;
}

/// The merging an algorithm does on its shards: the levels a one-shard call does too, and the
/// time of one level over a segment of n elements (us; empty: the memory formula).
struct merge_work {
  std::size_t passes_in_one_shard = 0;
  std::function<double(double)> pass_us;
};

/// Projected phases of one call with these stats, segment sizes and local bytes per element;
/// with `one_shard` (the calibrated time of a segment of n elements on one shard, in us) and
/// `sharing` (shards per processor), the local phase is that instead of the memory formula;
/// with `merge`, the merge passes' phase (else it is 0).
inline std::vector<phase> project(const machine& m, const shard::stats& st, const std::vector<std::size_t>& segments,
                                  double bytes_per_element, const std::function<double(double)>& one_shard = {},
                                  double sharing = 1, const merge_work* merge = nullptr) {
  const std::size_t g = st.shards;
  if (g != m.gpus) throw std::runtime_error("model: the stats have " + std::to_string(g) + " shards, the machine " + std::to_string(m.gpus) + " GPUs");
  phase local{"local memory"}, launches{"launches"}, between{"shard->shard"}, host{"host transfers"}, syncs{"host syncs"},
      merging{"merge passes"};
  for (std::size_t s = 0; s < g; ++s) {
    if (merge) {
      std::size_t runs = 0;
      for (std::size_t src = 0; src < g; ++src)
        if (st.bytes_moved(int(src), int(s)) > 0) ++runs;  // src == s: its local copy
      const std::size_t levels = merge_passes(runs);
      const double passes = static_cast<double>(levels > merge->passes_in_one_shard ? levels - merge->passes_in_one_shard : 0);
      const double n = static_cast<double>(segments[s]);
      const double pass = merge->pass_us ? merge->pass_us(n) * sharing : NAN;
      const double bytes = 2 * n * bytes_per_element;
      merging.bytes += passes * bytes;
      merging.us = std::max(merging.us, passes * (std::isfinite(pass) ? pass : bytes / (m.memory_bandwidth_gbps * 1e3)));
    }
    const double bytes = static_cast<double>(segments[s]) * bytes_per_element + 2.0 * static_cast<double>(st.bytes_moved(int(s), int(s)));
    local.bytes += bytes;
    const double calibrated = one_shard ? one_shard(static_cast<double>(segments[s])) * sharing : NAN;
    local.us = std::max(local.us, std::isfinite(calibrated) ? calibrated : bytes / (m.memory_bandwidth_gbps * 1e3));
    launches.us = std::max(launches.us, static_cast<double>(st.launches[s]) * m.launch_latency_us);
    double in_us = 0, host_us = 0, host_bytes = 0;
    for (std::size_t src = 0; src < g; ++src) {
      const double b = static_cast<double>(st.bytes_moved(int(src), int(s)));
      if (src == s || b == 0) continue;
      between.bytes += b;
      in_us += b / (m.link_gbps[src * g + s] * 1e3) + m.link_latency_us[src * g + s];
    }
    between.us = std::max(between.us, in_us);
    for (const double b : {static_cast<double>(st.bytes_moved(int(s), shard::stats::host)),
                           static_cast<double>(st.bytes_moved(shard::stats::host, int(s)))})
      if (b > 0) host_us += b / (m.host_bandwidth_gbps * 1e3) + m.host_latency_us, host_bytes += b;
    host.bytes += host_bytes;
    host.us = std::max(host.us, host_us);
  }
  syncs.us = static_cast<double>(st.host_syncs) * m.sync_latency_us;
  return {local, launches, between, host, syncs, merging};
}

inline double total_us(const std::vector<phase>& phases) {
  double t = 0;
  for (auto& p : phases) t += p.us;
  return t;
}

struct model_row {
  std::string algorithm;
  std::size_t elements = 0;
  std::vector<phase> phases;
  double measured_us = NAN;  // when a run on this machine measured it
};

/// Projects every algorithm at `elements` on `m`, taking the stats from a run on emulated
/// devices with m.gpus shards; with `cal`, the local phase of each algorithm it measured is
/// calibrated, and so is a merge pass where it measured the merge (see the file comment).
inline std::vector<model_row> run_model(const machine& m, std::size_t elements, const calibration* cal = nullptr) {
  std::vector<model_row> rows;
  shard::context emulated = shard::context::host(m.gpus);
  const auto segments = shard::distribution::even().sizes(elements, m.gpus);
  const double sharing =
      cal ? static_cast<double>(m.gpus) / static_cast<double>(std::min<std::size_t>(m.gpus, std::max<std::size_t>(cal->parallel_shards, 1)))
          : 1;
  for (const auto& c : algorithm_cases()) {
    auto call = c.prepare(emulated, elements);
    emulated.reset_stats();
    call.run();
    const std::string name = case_name(c);
    std::function<double(double)> one_shard;
    const double g = static_cast<double>(m.gpus);
    const auto calibrated = [cal, g](const std::string& key) -> std::function<double(double)> {
      if (!cal || !cal->one_shard_us.count(key)) return {};
      return [cal, key, g](double n) { return cal->shared_memory ? cal->at(key, n * g) / g : cal->at(key, n); };
    };
    one_shard = calibrated(name);
    // Several shards' local work can read more than the one-shard call did (the scan's reduce pass).
    const double more = m.gpus > 1 ? c.local_traffic_on_many : 1;
    if (one_shard && more != 1) one_shard = [f = one_shard, more](double n) { return f(n) * more; };
    // A level over a segment: half the one-shard merge of two runs of that many int32 keys
    // (it copies them in, then merges), scaled by the element size (bytes per element / 4).
    merge_work merge{c.merge_passes_in_one_shard, {}};
    if (const auto pass = calibrated(merge_case_name()); pass) {
      const double scale = c.bytes_per_element / 4 / 2;
      merge.pass_us = [pass, scale](double n) { return pass(n) * scale; };
    }
    rows.push_back(model_row{name, elements,
                             project(m, emulated.stats(), segments, c.bytes_per_element * more, one_shard, sharing,
                                     c.merges ? &merge : nullptr)});
  }
  return rows;
}

/// A collective's projection: the alpha-beta form nccl-tests' busbw rests on: the
/// collective latency plus the bytes each link carries (size x busbw factor) over the
/// slowest link between two shards.
struct collective_row {
  std::string collective;
  std::size_t bytes = 0;  // nccl-tests' size
  double projected_us = 0;
  std::vector<std::pair<std::string, double>> measured_us;  // engine -> time, when measured here
};

inline collective_row project_collective(const machine& m, const std::string& name, std::size_t bytes) {
  double slowest = INFINITY;
  for (std::size_t a = 0; a < m.gpus; ++a)
    for (std::size_t b = 0; b < m.gpus; ++b)
      if (a != b) slowest = std::min(slowest, m.link_gbps[a * m.gpus + b]);
  const double wire = m.gpus > 1 ? static_cast<double>(bytes) * bus_factor(name, m.gpus) / (slowest * 1e3) : 0;
  return collective_row{name, bytes, m.collective_latency_us + wire, {}};
}

inline std::vector<collective_row> project_collectives(const machine& m, std::size_t bytes) {
  std::vector<collective_row> rows;
  for (const auto& name : collective_names()) rows.push_back(project_collective(m, name, bytes));
  return rows;
}

/// A model's output: the machine, the algorithms' phases, the collectives.
struct model_result {
  machine m;
  std::vector<model_row> algorithms;
  std::vector<collective_row> collectives;
};

inline void print_model(std::ostream& os, const model_result& r) {
  const machine& m = r.m;
  os << "== model: " << m.name << " (" << m.gpus << " GPUs, memory " << fixed(m.memory_bandwidth_gbps, 0)
     << " GB/s, link " << fixed(m.link_gbps.size() > 1 ? m.link_gbps[1] : m.link_gbps[0], 1) << " GB/s, collective latency "
     << fixed(m.collective_latency_us, 1) << " us)\n\n";
  std::vector<std::string> header{"algorithm", "elements"};
  for (auto& p : r.algorithms.front().phases) header.push_back(p.name + " us");
  header.insert(header.end(), {"projected us", "measured us", "measured/projected"});
  table t(header);
  for (auto& row : r.algorithms) {
    std::vector<std::string> cells{row.algorithm, std::to_string(row.elements)};
    for (auto& p : row.phases) cells.push_back(fixed(p.us, 1));
    const double total = total_us(row.phases);
    cells.push_back(fixed(total, 1));
    cells.push_back(std::isfinite(row.measured_us) ? fixed(row.measured_us, 1) : "-");
    cells.push_back(std::isfinite(row.measured_us) ? fixed(row.measured_us / total, 2) : "-");
    t.row(cells);
  }
  t.print(os);
  os << "\ncollectives (collective latency + size x busbw factor / slowest link)\n";
  table c({"collective", "size", "projected us", "measured us", "measured/projected"});
  for (const auto& row : r.collectives) {
    auto measured = row.measured_us;
    if (measured.empty()) measured.emplace_back("", NAN);
    for (const auto& [engine, us] : measured) {
      const std::string label = engine.empty() ? row.collective : row.collective + " (" + engine + ")";
      c.row({label, human_bytes(static_cast<double>(row.bytes)), fixed(row.projected_us, 1),
             std::isfinite(us) ? fixed(us, 1) : "-", std::isfinite(us) ? fixed(us / row.projected_us, 2) : "-"});
    }
  }
  c.print(os);
  os << '\n';
}

inline json model_json(const model_result& r) {
  json v;
  v["machine"] = machine_json(r.m);
  json& list = v["projections"] = json::array();
  for (auto& row : r.algorithms) {
    json e;
    e["algorithm"] = row.algorithm;
    e["elements"] = row.elements;
    json ph = json::object();
    for (auto& p : row.phases) ph[p.name] = p.us;
    e["phases_us"] = ph;
    e["projected_us"] = total_us(row.phases);
    e["measured_us"] = std::isfinite(row.measured_us) ? json(row.measured_us) : json(nullptr);
    list.push_back(e);
  }
  json& coll = v["collectives"] = json::array();
  for (auto& row : r.collectives) {
    json e;
    e["collective"] = row.collective;
    e["bytes"] = row.bytes;
    e["projected_us"] = row.projected_us;
    json measured = json::object();
    for (auto& [engine, us] : row.measured_us)
      if (!engine.empty()) measured[engine] = us;
    e["measured_us"] = measured;
    coll.push_back(e);
  }
  return v;
}

}  // namespace bench
