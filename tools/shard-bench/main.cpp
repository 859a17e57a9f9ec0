// shard-bench: one tool for a machine's shards and links, and shard's algorithms on them.
//   shard-bench topo | p2p | collectives | algorithms | model | all   [options]
// Runs on every GPU when there are GPUs (and this binary has CUDA), else on emulated
// devices on the host, and says which. `shard-bench help` lists the options.
#include <shard/shard.hpp>

#include "algorithms.hpp"
#include "collectives.hpp"
#include "common.hpp"
#include "json.hpp"
#include "model.hpp"
#include "p2p.hpp"
#include "svg.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace {

const char* usage_text = R"(usage: shard-bench <command> [options]

commands:
  topo          the shards' devices and the route between every pair
  p2p           bandwidth (one way, both ways) and latency matrices, peer access on and off
  collectives   all-reduce, all-gather, reduce-scatter, all-to-all, broadcast over a size
                sweep: time, algbw, busbw (nccl-tests' definitions); shard's transport, and
                NCCL where it can run
  algorithms    transform and reduce over 1..G shards and a size sweep: throughput,
                scaling efficiency, bytes moved
  model         projected time per phase on a described machine (--preset, --machine,
                or --from-measured p2p JSON)
  all           topo, p2p, collectives, algorithms, then the model of this machine built
                from its p2p figures, compared with the measured algorithms

options:
  --backend auto|host|cuda   GPUs if any (default), or emulated devices on the host
  --shards N                 shards (host: emulated devices, default SHARD_HOST_DEVICES or 4;
                             cuda: default one per GPU, more are mapped round robin)
  --json FILE                write every figure as JSON
  --svg DIR                  write pictures (heatmaps, line plots) as SVG files into DIR
  --quick                    small sizes, few repetitions (a smoke run)
  p2p:          --bytes SIZE (copy size)  --reps N  --latency-bytes SIZE  --latency-reps N
  collectives:  --min-bytes SIZE --max-bytes SIZE --reps N
  algorithms:   --min-elements N --max-elements N --reps N
  model:        --preset dgx-h100|pcie-4gpu | --machine FILE | --from-measured P2P.json
                --elements N (default 16M)   --out FILE (write the machine as JSON)
SIZE accepts K, M, G suffixes (binary).
)";

bench::options parse(int argc, char** argv) {
  bench::options o;
  if (argc < 2) throw bench::usage_error("no command given");
  o.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i], value;
    const auto eq = arg.find('=');
    const bool has_eq = eq != std::string::npos;
    if (has_eq) value = arg.substr(eq + 1), arg = arg.substr(0, eq);
    auto next = [&]() -> std::string {
      if (has_eq) return value;
      if (i + 1 >= argc) throw bench::usage_error(arg + " needs a value");
      return argv[++i];
    };
    auto size = [&] { return bench::parse_size(next(), arg); };
    if (arg == "--quick") o.quick = true;
    else if (arg == "--backend") o.backend = next();
    else if (arg == "--shards") o.shards = size();
    else if (arg == "--json") o.json_path = next();
    else if (arg == "--svg") o.svg_dir = next();
    else if (arg == "--bytes") o.p2p_bytes = size();
    else if (arg == "--reps") o.p2p_reps = o.reps = size();
    else if (arg == "--latency-bytes") o.latency_bytes = size();
    else if (arg == "--latency-reps") o.latency_reps = size();
    else if (arg == "--min-bytes") o.min_bytes = size();
    else if (arg == "--max-bytes") o.max_bytes = size();
    else if (arg == "--min-elements") o.min_elements = size();
    else if (arg == "--max-elements") o.max_elements = size();
    else if (arg == "--elements") o.model_elements = size();
    else if (arg == "--preset") o.preset = next();
    else if (arg == "--machine") o.machine_path = next();
    else if (arg == "--from-measured") o.from_measured = next();
    else if (arg == "--out") o.out_path = next();
    else throw bench::usage_error("unknown option \"" + arg + "\"");
  }
  return o;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bench::json::value topology_json(const shard::topology& t) {
  bench::json::value v;
  v["backend"] = t.backend;
  bench::json::value& shards = v["shards"] = bench::json::value::array();
  for (auto& d : t.shards) {
    bench::json::value& e = shards.push(bench::json::value::object());
    e["device"] = d.ordinal;
    e["name"] = d.name;
    e["memory_bytes"] = d.memory_bytes;
    e["multiprocessors"] = d.multiprocessors;
    e["compute_capability"] = std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor);
    e["bus_id"] = d.bus_id;
  }
  bench::json::value& links = v["links"] = bench::json::value::array();
  for (std::size_t a = 0; a < t.size(); ++a) {
    bench::json::value& row = links.push(bench::json::value::array());
    for (std::size_t b = 0; b < t.size(); ++b) {
      const auto& l = t.link(a, b);
      bench::json::value& e = row.push(bench::json::value::object());
      e["route"] = l.route();
      e["same_device"] = l.same_device;
      e["peer_supported"] = l.peer_supported;
      e["peer_enabled"] = l.peer_enabled;
      e["performance_rank"] = l.performance_rank;
      e["native_atomics"] = l.native_atomics;
    }
  }
  return v;
}

int run(const bench::options& o) {
  static const std::vector<std::string> commands{"topo", "p2p", "collectives", "algorithms", "model", "all"};
  if (std::find(commands.begin(), commands.end(), o.command) == commands.end())
    throw bench::usage_error("unknown command \"" + o.command + "\"");
  if (!o.svg_dir.empty()) std::filesystem::create_directories(o.svg_dir);

  bench::json::value doc;
  doc["tool"] = "shard-bench";
  doc["version"] = std::to_string(SHARD_VERSION_MAJOR) + "." + std::to_string(SHARD_VERSION_MINOR) + "." +
                   std::to_string(SHARD_VERSION_PATCH);
  doc["command"] = o.command;
  doc["date"] = today();
  std::ostream& os = std::cout;

  if (o.command == "model") {
    bench::machine m;
    const int given = !o.preset.empty() + !o.machine_path.empty() + !o.from_measured.empty();
    if (given != 1) throw bench::usage_error("model: give exactly one of --preset, --machine, --from-measured");
    if (!o.preset.empty()) m = bench::preset(o.preset);
    else if (!o.machine_path.empty()) m = bench::machine_from_json(bench::read_json_file(o.machine_path));
    else m = bench::machine_from_p2p(bench::read_json_file(o.from_measured), "measured: " + o.from_measured);
    if (!o.out_path.empty()) {
      std::ofstream out(o.out_path);
      if (!out) throw std::runtime_error("cannot write " + o.out_path);
      bench::machine_json(m).write(out);
      out << '\n';
      os << "machine written to " << o.out_path << "\n\n";
    }
    const std::size_t n = o.model_elements ? o.model_elements : (o.quick ? std::size_t{1} << 16 : std::size_t{1} << 24);
    const bench::model_result r{m, bench::run_model(m, n), bench::project_collectives(m, n * sizeof(float))};
    bench::print_model(os, r);
    doc["model"] = bench::model_json(r);
  } else {
    bench::target tgt = bench::make_target(o);
    const std::size_t g = tgt.ctx.size();
    const std::string where = tgt.emulated ? " - host, " + std::to_string(g) + " emulated devices"
                                           : " - " + tgt.ctx.topology().shards[0].name + ", " + std::to_string(g) + " shards";
    os << "shard-bench " << doc.at("version").as_string() << ": "
       << (tgt.emulated ? "host backend, " + std::to_string(g) +
                              " emulated devices (one worker thread each; no GPU in use: the figures are this CPU's)"
                        : "CUDA backend, " + std::to_string(g) + " shards")
       << "\n\n";
    doc["backend"] = tgt.emulated ? "host" : "cuda";
    doc["emulated"] = tgt.emulated;
    doc["shards"] = g;
    doc["nccl"] = shard::transport::nccl_available(tgt.ctx.impl());
    const bool all = o.command == "all";
    if (all || o.command == "topo") {
      os << "== topology\n" << tgt.ctx.topology() << '\n';
      doc["topology"] = topology_json(tgt.ctx.topology());
    }
    bench::p2p_result p2p;
    if (all || o.command == "p2p") {
      p2p = bench::run_p2p(tgt, o);
      bench::print_p2p(os, p2p);
      doc["p2p"] = bench::p2p_json(p2p);
      if (!o.svg_dir.empty()) bench::p2p_svg(o.svg_dir, p2p, where);
    }
    std::vector<bench::collective_point> collective_points;
    if (all || o.command == "collectives") {
      collective_points = bench::run_collectives(tgt, o);
      bench::print_collectives(os, collective_points, g);
      doc["collectives"] = bench::collectives_json(collective_points);
      if (!o.svg_dir.empty()) bench::collectives_svg(o.svg_dir, collective_points, where);
    }
    std::vector<bench::algorithm_point> algorithms;
    if (all || o.command == "algorithms") {
      algorithms = bench::run_algorithms(tgt, o);
      bench::print_algorithms(os, algorithms);
      doc["algorithms"] = bench::algorithms_json(algorithms);
      if (!o.svg_dir.empty()) bench::algorithms_svg(o.svg_dir, algorithms, where);
    }
    if (all) {
      // The model of this machine, from its own p2p figures, against what it measured.
      const bench::machine m = bench::machine_from_p2p(doc, "this machine (from its p2p figures)");
      std::size_t n = 0;
      for (auto& p : algorithms) n = std::max(n, p.elements);
      bench::model_result r{m, bench::run_model(m, n), {}};
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
          if (c.collective == name && c.bytes == largest) row.measured_us.emplace_back(c.engine, c.time_us);
        r.collectives.push_back(row);
      }
      bench::print_model(os, r);
      doc["model"] = bench::model_json(r);
    }
  }
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path);
    if (!out) throw std::runtime_error("cannot write " + o.json_path);
    doc.write(out);
    out << '\n';
    os << "figures written to " << o.json_path << '\n';
  }
  if (!o.svg_dir.empty()) os << "pictures written to " << o.svg_dir << "/\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "help" || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << usage_text;
    return 0;
  }
  try {
    return run(parse(argc, argv));
  } catch (const bench::usage_error& e) {
    std::cerr << "shard-bench: " << e.what() << "\n\n" << usage_text;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "shard-bench: " << e.what() << '\n';
    return 1;
  }
}
