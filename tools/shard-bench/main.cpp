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

#include <set>
#include <thread>
#include "report.hpp"
#include "svg.hpp"
#include "topo.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#ifdef SHARD_BENCH_MPI
// shard-bench-mpi: the same tool over the shards of every process of MPI_COMM_WORLD (an SPMD
// context, shard::mpi::context), as nccl-tests' MPI mode: started by mpirun or srun, every
// rank measures, rank 0 prints and writes the files.
#include <mpi.h>
#include <shard/mpi.hpp>
#endif

namespace {

/// The shards under test: this process's (make_target), or under shard-bench-mpi every
/// rank's, each rank's own chosen as make_target chooses them (--shards per rank).
bench::target target_for(const bench::options& o) {
  bench::target local = bench::make_target(o);
#ifdef SHARD_BENCH_MPI
  return bench::target{shard::mpi::context(MPI_COMM_WORLD, local.ctx), local.emulated, {}, true};
#else
  return local;
#endif
}

/// Whether this process prints and writes files: rank 0 of shard-bench-mpi, or the only one.
bool speaks() {
#ifdef SHARD_BENCH_MPI
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
#else
  return true;
#endif
}

/// Where the other ranks' tables go.
std::ostream& null_stream() {
  static std::ofstream sink;  // never opened: writes fail silently
  return sink;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void write_file(const std::string& path, const std::function<void(std::ostream&)>& body) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  body(out);
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path);
}

int run(bench::options o) {
  using bench::json;
  const bool speaker = speaks();
  if (!speaker) o.quiet = true, o.json_path.clear(), o.csv_path.clear(), o.svg_dir.clear();
  const bool json_to_stdout = o.json_path == "-";
  std::ostream& os = !speaker ? null_stream() : json_to_stdout ? std::cerr : std::cout;  // stdout holds the JSON alone
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

  bench::target tgt = target_for(o);
  const std::size_t g = tgt.ctx.size();
  const std::string processes = tgt.spmd ? " over " + std::to_string(tgt.ctx.ranks()) + " processes" : "";
  const std::string where = (tgt.emulated ? " - host, " + std::to_string(g) + " emulated devices"
                                          : " - " + tgt.ctx.topology().shards[0].name + ", " + std::to_string(g) + " shards") +
                            processes;
  os << "shard-bench " << bench::shard_version() << ": "
     << (tgt.emulated ? "host backend, " + std::to_string(g) +
                            " emulated devices (one worker thread each; no GPU in use: the figures are this CPU's)"
                      : "CUDA backend, " + std::to_string(g) + " shards")
     << processes
     << "; verification " << (o.verify ? "on (every transfer checked; #wrong counts what differs)" : "off (--skip-verification)")
     << "\n\n";
  json& host = doc["host"];
  host["backend"] = tgt.emulated ? "host" : "cuda";
  host["emulated"] = tgt.emulated;
  host["shards"] = g;
  host["ranks"] = tgt.ctx.ranks();
  host["nccl_engine"] = shard::transport::nccl_available(tgt.ctx.impl());
  json devices = json::array();
  for (std::size_t s = 0; s < g; ++s) {
    const auto& d = tgt.ctx.topology().shards[s];
    devices.push_back(json{{"shard", s}, {"device", tgt.ordinals.empty() ? d.ordinal : tgt.ordinals[s]}, {"name", d.name},
                           {"bus_id", d.bus_id}, {"rank", d.rank}, {"host", d.host}});
  }
  host["devices"] = devices;
  json& tests = doc["tests"] = json::object();
  std::vector<bench::record> records;

  bench::run_output out{os, tests, records, o.svg_dir, where};
  for (const auto& f : bench::family_registry()) f.run(tgt, o, out);  // each runs its selected tests

  if (o.command == "all") {
    // The model of this machine, from its own p2p figures, against what it measured.
    bool have = true;
    for (const char* key : {"p2p_bw_ce", "p2p_latency", "p2p_bw_staged", "p2p_latency_staged"}) have = have && tests.contains(key);
    if (!have) {
      os << "== model: skipped (it needs the tests p2p_bw_ce, p2p_latency, p2p_bw_staged and p2p_latency_staged)\n\n";
    } else {
      const bench::machine m = bench::machine_from_p2p(doc, "this machine (from its p2p figures)");
      // What the algorithms and collectives measured, read back from their JSON entries.
      auto measured = [](const json& point) { return point.at("time_us").get<bench::figure>().value; };
      std::size_t n = 0;
      for (const auto& c : bench::algorithm_cases())
        if (tests.contains(c.key))
          for (const auto& p : tests[c.key].at("points")) n = std::max(n, p.at("elements").get<std::size_t>());
      // Calibrated by this machine's own one-shard figures (the algorithms test's shards = 1
      // points): emulated shards share the cores, GPUs compute side by side.
      bench::calibration cal;
      std::set<int> gpus;
      for (std::size_t s = 0; s < g; ++s) gpus.insert(tgt.ctx.device(s));
      cal.parallel_shards = tgt.emulated ? std::max(1u, std::thread::hardware_concurrency()) : gpus.size();
      cal.shared_memory = tgt.emulated;
      for (const auto& c : bench::algorithm_cases())
        if (tests.contains(c.key))
          for (const auto& p : tests[c.key].at("points"))
            if (p.at("shards") == 1)
              cal.one_shard_us[p.at("algorithm").get<std::string>()].emplace_back(p.at("elements").get<double>(), measured(p));
      bench::model_result r{m, n ? bench::run_model(m, n, &cal) : std::vector<bench::model_row>{}, {}};
      for (auto& row : r.algorithms)
        for (const auto& c : bench::algorithm_cases())
          if (tests.contains(c.key))
            for (const auto& p : tests[c.key].at("points"))
              if (p.at("algorithm") == row.algorithm && p.at("shards") == g && p.at("elements") == n)
                row.measured_us = measured(p);
      // Each collective at its largest measured size, next to what each engine measured.
      for (const auto& name : bench::collective_names()) {
        if (!tests.contains(name)) continue;
        const auto& points = tests[name].at("points");
        std::size_t largest = 0;
        for (const auto& p : points) largest = std::max(largest, p.at("bytes").get<std::size_t>());
        if (largest == 0) continue;
        auto row = bench::project_collective(m, name, largest);
        for (const auto& p : points)
          if (p.at("bytes") == largest) row.measured_us.emplace_back(p.at("engine").get<std::string>(), measured(p));
        r.collectives.push_back(row);
      }
      if (!r.algorithms.empty()) {
        bench::print_model(os, r);
        doc["model"] = bench::model_json(r);
      }
    }
  }

  json& rec = doc["records"] = json::array();
  for (auto& r : records) rec.push_back(json(r));
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

int main_of(int argc, char** argv) {
  try {
    const bench::parsed p = bench::parse_command_line(argc, argv);
    if (p.exit) return *p.exit;
    return run(p.o);
  } catch (const bench::usage_error& e) {  // (every rank parses the same command line)
    if (speaks())
      std::cerr << "shard-bench: " << e.what() << "\nRun shard-bench --help (or shard-bench <command> --help) for the options.\n";
    return bench::exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "shard-bench: " << e.what() << '\n';
#ifdef SHARD_BENCH_MPI
    // A failure that the ranks did not agree on must not leave the others waiting.
    MPI_Abort(MPI_COMM_WORLD, bench::exit_error);
#endif
    return bench::exit_error;
  }
}

int main(int argc, char** argv) {
#ifdef SHARD_BENCH_MPI
  MPI_Init(&argc, &argv);
  const int code = main_of(argc, argv);
  MPI_Finalize();
  return code;
#else
  return main_of(argc, argv);
#endif
}
