#pragma once
// shard-bench's outputs beyond the tables: provenance (what ran where, with which settings),
// the flat records of a run (CSV rows; what --baseline compares), the one-line summary and
// its --min-bw threshold, and the comparison with an earlier run's JSON.
#include "common.hpp"

#include <unistd.h>

#include <fstream>
#include <map>
#include <tuple>

#if SHARD_HAS_CUDA
#  include <cuda_runtime.h>
#endif
#if SHARD_HAS_NCCL
#  include <nccl.h>
#endif

namespace bench {

inline std::string shard_version() {
  return std::to_string(SHARD_VERSION_MAJOR) + "." + std::to_string(SHARD_VERSION_MINOR) + "." + std::to_string(SHARD_VERSION_PATCH);
}

/// "13.0" from CUDA's 13000.
inline std::string cuda_version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

/// Where the figures come from: host, driver, runtime and NCCL versions.
inline json host_json() {
  json v;
  char name[256] = {};
  v["hostname"] = gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("unknown");
  v["cuda_compiled"] = SHARD_HAS_CUDA != 0;
#if SHARD_HAS_CUDA
  int driver = 0, runtime = 0;
  v["driver_version"] = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0 ? json(cuda_version_text(driver)) : json(nullptr);
  v["runtime_version"] = cudaRuntimeGetVersion(&runtime) == cudaSuccess ? json(cuda_version_text(runtime)) : json(nullptr);
#else
  v["driver_version"] = nullptr;
  v["runtime_version"] = nullptr;
#endif
#if SHARD_HAS_NCCL
  int nccl = 0;
  if (ncclGetVersion(&nccl) == ncclSuccess)
    v["nccl_version"] = std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." + std::to_string(nccl % 100);
  else
    v["nccl_version"] = nullptr;
#else
  v["nccl_version"] = nullptr;
#endif
  return v;
}

/// Every setting the run used (the options as given, defaults included).
inline json settings_json(const options& o) {
  json v;
  v["tests"] = o.tests;
  v["backend"] = o.backend;
  v["shards"] = o.shards;
  v["devices"] = o.devices;
  v["quick"] = o.quick;
  v["verify"] = o.verify;
  v["samples"] = o.samples;
  v["direction"] = o.direction;
  v["p2p_bytes"] = o.p2p_bytes;
  v["p2p_reps"] = o.p2p_reps;
  v["latency_bytes"] = o.latency_bytes;
  v["latency_reps"] = o.latency_reps;
  v["minbytes"] = o.min_bytes;
  v["maxbytes"] = o.max_bytes;
  v["stepfactor"] = o.step_factor;
  v["iters"] = o.iters;
  v["warmup_iters"] = o.warmup;  // 0 unless -w was given
  v["datatype"] = o.datatype;
  v["op"] = o.op;
  v["root"] = o.root;
  v["min_elements"] = o.min_elements;
  v["max_elements"] = o.max_elements;
  v["min_bw_gbps"] = o.min_bw;
  v["baseline"] = o.baseline_path;
  v["json"] = o.json_path;
  v["csv"] = o.csv_path;
  v["svg"] = o.svg_dir;
  v["quiet"] = o.quiet;
  v["preset"] = o.preset;
  v["machine"] = o.machine_path;
  v["from_measured"] = o.from_measured;
  v["elements"] = o.model_elements;
  v["out"] = o.out_path;
  v["note"] = "0 = the default for the backend; the values used are in each test's entry (bytes, reps, iters, warmup_iters, sizes)";
  return v;
}

inline std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

inline std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  std::ostringstream os;
  os << std::setprecision(10) << v;
  return os.str();
}

inline const char* csv_header() { return "test,label,metric,unit,bytes,value,min,max,stdev,samples,wrong,higher_is_better,headline"; }

/// The records as CSV: one row per record, the columns of csv_header().
inline void write_csv(std::ostream& os, const std::vector<record>& records) {
  os << csv_header() << '\n';
  for (auto& r : records)
    os << csv_cell(r.test) << ',' << csv_cell(r.label) << ',' << csv_cell(r.metric) << ',' << csv_cell(r.unit) << ','
       << csv_number(r.bytes) << ',' << csv_number(r.f.value) << ',' << csv_number(r.f.min) << ',' << csv_number(r.f.max) << ','
       << csv_number(r.f.stdev) << ',' << r.f.samples << ',' << r.wrong << ',' << (r.higher_is_better ? 1 : 0) << ','
       << (r.headline ? 1 : 0) << '\n';
}

/// The one-line summary: the mean of the collectives' bus bandwidths when collectives ran (as
/// nccl-tests' "# Avg bus bandwidth"), else of the headline link bandwidths (p2p pairs
/// between distinct shards, host links per shard); and the wrong count over every record.
struct summary {
  double avg_gbps = NAN;
  std::size_t figures = 0;
  std::string over;      // what was averaged
  long long wrong = 0;   // bytes or elements verified wrong, every test
  std::size_t verified = 0;  // cells (test and label) that were verified
};

inline summary summarize(const std::vector<record>& records) {
  summary s;
  double sum = 0;
  bool collectives = false;
  for (auto& r : records) collectives = collectives || (r.headline && r.metric == "busbw_gbps");
  // A cell's wrong count is on each of its metrics' records (time, algbw, busbw): count it once.
  std::map<std::pair<std::string, std::string>, long long> wrong;
  for (auto& r : records) {
    auto [it, fresh] = wrong.emplace(std::make_pair(r.test, r.label), r.wrong);
    if (!fresh) it->second = std::max(it->second, r.wrong);
  }
  for (auto& [cell, w] : wrong) {
    if (w > 0) s.wrong += w;
    if (w >= 0) ++s.verified;
  }
  for (auto& r : records) {
    if (!r.headline || !std::isfinite(r.f.value)) continue;
    if (collectives != (r.metric == "busbw_gbps")) continue;
    sum += r.f.value;
    ++s.figures;
  }
  s.over = collectives ? "collectives' bus bandwidth" : "link bandwidths between distinct endpoints";
  if (s.figures) s.avg_gbps = sum / static_cast<double>(s.figures);
  return s;
}

inline void print_summary(std::ostream& os, const summary& s, bool verify) {
  os << "# Out of bounds values : " << s.wrong << (verify ? (s.wrong ? " FAILED" : " OK") : " (verification off)") << '\n';
  if (s.figures)
    os << "# Avg bus bandwidth    : " << fixed(s.avg_gbps, 3) << " GB/s (mean of " << s.figures << " " << s.over << ")\n";
  else
    os << "# Avg bus bandwidth    : - (no bandwidth was measured)\n";
}

inline json summary_json(const summary& s, const options& o) {
  json v;
  v["avg_bus_bandwidth_gbps"] = std::isfinite(s.avg_gbps) ? json(s.avg_gbps) : json(nullptr);
  v["averaged"] = s.over;
  v["figures"] = s.figures;
  v["wrong"] = s.wrong;
  v["verified_cells"] = s.verified;
  v["verification"] = o.verify;
  v["min_bw_gbps"] = o.min_bw > 0 ? json(o.min_bw) : json(nullptr);
  v["below_min_bw"] = o.min_bw > 0 && !(s.avg_gbps >= o.min_bw);
  return v;
}

/// Records of an earlier run's JSON ("records"), keyed by test, label and metric.
inline std::map<std::tuple<std::string, std::string, std::string>, double> baseline_records(const json& doc, const std::string& path) {
  if (!doc.is_object() || !doc.contains("records") || !doc.at("records").is_array())
    throw std::runtime_error(path + ": not a shard-bench JSON file with \"records\" (write one with --json)");
  std::map<std::tuple<std::string, std::string, std::string>, double> out;
  for (auto& entry : doc.at("records")) {
    record r;
    try {
      r = entry.get<record>();
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
    if (std::isfinite(r.f.value)) out[{r.test, r.label, r.metric}] = r.f.value;
  }
  return out;
}

/// Ratio of every figure to the baseline's, for the records both runs have; "slower" marks a
/// figure more than 5% worse (less bandwidth, or more time). Returns how many are slower.
inline std::size_t compare_baseline(std::ostream& os, const std::vector<record>& records, const json& old_doc,
                                    const std::string& path, json& out) {
  const auto old = baseline_records(old_doc, path);
  table t({"test", "label", "metric", "baseline", "now", "now/baseline", ""});
  std::size_t matched = 0, slower = 0;
  out = json::array();
  for (auto& r : records) {
    const auto it = old.find({r.test, r.label, r.metric});
    if (it == old.end() || !std::isfinite(r.f.value)) continue;
    ++matched;
    const double ratio = it->second != 0 ? r.f.value / it->second : NAN;
    const bool worse = std::isfinite(ratio) && (r.higher_is_better ? ratio < 0.95 : ratio > 1.05);
    slower += worse;
    t.row({r.test, r.label, r.metric, fixed(it->second, 2), fixed(r.f.value, 2), fixed(ratio, 3), worse ? "slower" : ""});
    json e;
    e["test"] = r.test;
    e["label"] = r.label;
    e["metric"] = r.metric;
    e["baseline"] = it->second;
    e["value"] = r.f.value;
    e["ratio"] = std::isfinite(ratio) ? json(ratio) : json(nullptr);
    e["slower"] = worse;
    out.push_back(e);
  }
  os << "== baseline: " << path << " (" << matched << " figures in both runs, " << slower << " more than 5% worse)\n";
  if (matched) t.print(os);
  os << '\n';
  return slower;
}

}  // namespace bench
