// shard-bench: one tool for a machine's shards and links, and shard's algorithms on them.
//   shard-bench topo | p2p | host | collectives | algorithms | model | all   [options]
// Runs on every GPU when there are GPUs (and this binary has CUDA), else on emulated
// devices on the host, and says which. `shard-bench --help` and `shard-bench <command>
// --help` list the options; `shard-bench -l` the tests.
#include <shard/shard.hpp>

#include "algorithms.hpp"
#include "cli.hpp"
#include "collectives.hpp"
#include "common.hpp"
#include "links.hpp"
#include "model.hpp"
#include "report.hpp"
#include "svg.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace {

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bench::json topology_json(const shard::topology& t, const bench::target& tgt) {
  bench::json v;
  v["backend"] = t.backend;
  bench::json shards = bench::json::array();
  for (std::size_t s = 0; s < t.shards.size(); ++s) {
    const auto& d = t.shards[s];
    bench::json e;
    e["shard"] = s;
    e["device"] = tgt.ordinals.empty() ? d.ordinal : tgt.ordinals[s];
    e["name"] = d.name;
    e["memory_bytes"] = d.memory_bytes;
    e["multiprocessors"] = d.multiprocessors;
    e["compute_capability"] = std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor);
    e["bus_id"] = d.bus_id;
    shards.push_back(e);
  }
  v["shards"] = shards;
  bench::json links = bench::json::array();
  for (std::size_t a = 0; a < t.size(); ++a) {
    bench::json row = bench::json::array();
    for (std::size_t b = 0; b < t.size(); ++b) {
      const auto& l = t.link(a, b);
      bench::json e;
      e["route"] = l.route();
      e["same_device"] = l.same_device;
      e["peer_supported"] = l.peer_supported;
      e["peer_enabled"] = l.peer_enabled;
      e["performance_rank"] = l.performance_rank;
      e["native_atomics"] = l.native_atomics;
      row.push_back(e);
    }
    links.push_back(row);
  }
  v["links"] = links;
  return v;
}

void write_file(const std::string& path, const std::function<void(std::ostream&)>& body) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  body(out);
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path);
}

int run(const bench::options& o) {
  using bench::json;
  const bool json_to_stdout = o.json_path == "-";
  std::ostream& os = json_to_stdout ? std::cerr : std::cout;  // stdout holds the JSON alone
  if (!o.svg_dir.empty()) std::filesystem::create_directories(o.svg_dir);
  json old_doc;
  if (!o.baseline_path.empty()) old_doc = bench::read_json_file(o.baseline_path);  // a bad baseline fails before measuring

  json doc;
  doc["tool"] = "shard-bench";
  doc["version"] = bench::shard_version();
  doc["command"] = o.command;
  doc["command_line"] = o.command_line;
  doc["date"] = now_utc();
  doc["host"] = bench::host_json();
  doc["settings"] = bench::settings_json(o);

  if (o.command == "model") {
    bench::machine m;
    const int given = !o.preset.empty() + !o.machine_path.empty() + !o.from_measured.empty();
    if (given != 1) throw bench::usage_error("model: give exactly one of --preset, --machine, --from-measured");
    if (!o.preset.empty()) m = bench::preset(o.preset);
    else if (!o.machine_path.empty()) m = bench::machine_from_json(bench::read_json_file(o.machine_path));
    else m = bench::machine_from_p2p(bench::read_json_file(o.from_measured), "measured: " + o.from_measured);
    if (!o.out_path.empty()) {
      write_file(o.out_path, [&](std::ostream& out) { out << bench::machine_json(m).dump(2) << '\n'; });
      os << "machine written to " << o.out_path << "\n\n";
    }
    const std::size_t n = o.model_elements ? o.model_elements : (o.quick ? std::size_t{1} << 16 : std::size_t{1} << 24);
    const bench::model_result r{m, bench::run_model(m, n), bench::project_collectives(m, n * sizeof(float))};
    bench::print_model(os, r);
    doc["model"] = bench::model_json(r);
    if (json_to_stdout) std::cout << doc.dump(2) << '\n';
    else if (!o.json_path.empty()) write_file(o.json_path, [&](std::ostream& out) { out << doc.dump(2) << '\n'; });
    return bench::exit_ok;
  }

  bench::target tgt = bench::make_target(o);
  const std::size_t g = tgt.ctx.size();
  const std::string where = tgt.emulated ? " - host, " + std::to_string(g) + " emulated devices"
                                         : " - " + tgt.ctx.topology().shards[0].name + ", " + std::to_string(g) + " shards";
  os << "shard-bench " << bench::shard_version() << ": "
     << (tgt.emulated ? "host backend, " + std::to_string(g) +
                            " emulated devices (one worker thread each; no GPU in use: the figures are this CPU's)"
                      : "CUDA backend, " + std::to_string(g) + " shards")
     << "; verification " << (o.verify ? "on (every transfer checked; #wrong counts what differs)" : "off (--skip-verification)")
     << "\n\n";
  json& host = doc["host"];
  host["backend"] = tgt.emulated ? "host" : "cuda";
  host["emulated"] = tgt.emulated;
  host["shards"] = g;
  host["nccl_engine"] = shard::transport::nccl_available(tgt.ctx.impl());
  json devices = json::array();
  for (std::size_t s = 0; s < g; ++s) {
    const auto& d = tgt.ctx.topology().shards[s];
    devices.push_back(json{{"shard", s}, {"device", tgt.ordinals.empty() ? d.ordinal : tgt.ordinals[s]}, {"name", d.name}, {"bus_id", d.bus_id}});
  }
  host["devices"] = devices;
  json& tests = doc["tests"] = json::object();
  std::vector<bench::record> records;

  if (bench::selected(o, "topology")) {
    os << "== topology\n" << tgt.ctx.topology() << '\n';
    tests["topology"] = topology_json(tgt.ctx.topology(), tgt);
  }
  const bench::p2p_run p2p = bench::run_p2p(tgt, o);
  bench::print_link_tests(os, "== p2p (" + std::string(o.direction == "read" ? "reads" : "writes") +
                                  "; every loop queued behind a blocking kernel, then released)",
                          p2p.tests, o.verify);
  if (std::isfinite(p2p.sync_us))
    os << "host wait on all shards: " << bench::fixed(p2p.sync_us, 1) << " us; back-to-back launch on one shard: "
       << bench::fixed(p2p.launch_us, 2) << " us\n\n";
  for (const auto& t : p2p.tests) {
    tests[t.key] = bench::link_test_json(t);
    if (t.key == "p2p_latency") tests[t.key]["sync_us"] = p2p.sync_us, tests[t.key]["launch_us"] = p2p.launch_us;
    bench::link_records(t, records);
    if (!o.svg_dir.empty()) bench::link_svgs(o.svg_dir, t, where);
  }
  const auto host_links = bench::run_host_links(tgt, o);
  bench::print_link_tests(os, "== host links (every loop queued behind a blocking kernel, then released)", host_links, o.verify);
  for (const auto& t : host_links) {
    tests[t.key] = bench::link_test_json(t);
    bench::link_records(t, records);
    if (!o.svg_dir.empty()) bench::link_svgs(o.svg_dir, t, where);
  }
  const auto collective_points = bench::run_collectives(tgt, o);
  bench::print_collectives(os, collective_points, g, o);
  for (const auto& name : bench::collective_names())
    if (bench::selected(o, name)) tests[name] = bench::collectives_json(collective_points, name, bench::collective_settings(tgt, o));
  bench::collective_records(collective_points, records);
  if (!o.svg_dir.empty()) bench::collectives_svg(o.svg_dir, collective_points, where);
  const auto algorithms = bench::run_algorithms(tgt, o);
  bench::print_algorithms(os, algorithms);
  for (const auto& c : bench::algorithm_cases())
    if (bench::selected(o, c.key)) tests[c.key] = bench::algorithms_json(algorithms, c.key, bench::algorithm_settings(tgt, o));
  bench::algorithm_records(algorithms, records);
  if (!o.svg_dir.empty()) bench::algorithms_svg(o.svg_dir, algorithms, where);

  if (o.command == "all") {
    // The model of this machine, from its own p2p figures, against what it measured.
    bool have = true;
    for (const char* key : {"p2p_bw_ce", "p2p_latency", "p2p_bw_staged", "p2p_latency_staged"}) have = have && tests.contains(key);
    if (!have) {
      os << "== model: skipped (it needs the tests p2p_bw_ce, p2p_latency, p2p_bw_staged and p2p_latency_staged)\n\n";
    } else {
      const bench::machine m = bench::machine_from_p2p(doc, "this machine (from its p2p figures)");
      std::size_t n = 0;
      for (auto& p : algorithms) n = std::max(n, p.elements);
      bench::model_result r{m, n ? bench::run_model(m, n) : std::vector<bench::model_row>{}, {}};
      for (auto& row : r.algorithms)
        for (auto& p : algorithms)
          if (p.algorithm == row.algorithm && p.shards == g && p.elements == n) row.measured_us = p.time_us;
      // Each collective at its largest measured size, next to what each engine measured.
      for (const auto& name : bench::collective_names()) {
        std::size_t largest = 0;
        for (auto& c : collective_points)
          if (c.collective == name) largest = std::max(largest, c.bytes);
        if (largest == 0) continue;
        auto row = bench::project_collective(m, name, largest);
        for (auto& c : collective_points)
          if (c.collective == name && c.bytes == largest) row.measured_us.emplace_back(c.engine, c.time_us.value);
        r.collectives.push_back(row);
      }
      if (!r.algorithms.empty()) {
        bench::print_model(os, r);
        doc["model"] = bench::model_json(r);
      }
    }
  }

  json& rec = doc["records"] = json::array();
  for (auto& r : records) rec.push_back(bench::record_json(r));
  const bench::summary sum = bench::summarize(records);
  bench::print_summary(os, sum, o.verify);
  doc["summary"] = bench::summary_json(sum, o);
  if (!o.baseline_path.empty()) {
    json comparison;
    bench::compare_baseline(os, records, old_doc, o.baseline_path, comparison);
    doc["baseline"] = json{{"path", o.baseline_path}, {"comparison", comparison}};
  }
  if (!o.csv_path.empty()) {
    write_file(o.csv_path, [&](std::ostream& out) { bench::write_csv(out, records); });
    os << "rows written to " << o.csv_path << '\n';
  }
  if (json_to_stdout) {
    std::cout << doc.dump(2) << '\n';
  } else if (!o.json_path.empty()) {
    write_file(o.json_path, [&](std::ostream& out) { out << doc.dump(2) << '\n'; });
    os << "figures written to " << o.json_path << '\n';
  }
  if (!o.svg_dir.empty()) os << "pictures written to " << o.svg_dir << "/\n";
  if (sum.wrong > 0) {
    std::cerr << "shard-bench: verification failed: " << sum.wrong << " bytes or elements wrong (see #wrong)\n";
    return bench::exit_wrong;
  }
  if (o.min_bw > 0 && !(sum.avg_gbps >= o.min_bw)) {
    std::cerr << "shard-bench: average bandwidth " << bench::fixed(sum.avg_gbps, 3) << " GB/s is below --min-bw "
              << bench::fixed(o.min_bw, 3) << " GB/s\n";
    return bench::exit_below_min_bw;
  }
  return bench::exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::parsed p = bench::parse_command_line(argc, argv);
    if (p.exit) return *p.exit;
    return run(p.o);
  } catch (const bench::usage_error& e) {
    std::cerr << "shard-bench: " << e.what() << "\nRun shard-bench --help (or shard-bench <command> --help) for the options.\n";
    return bench::exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "shard-bench: " << e.what() << '\n';
    return bench::exit_error;
  }
}
