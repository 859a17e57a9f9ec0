#pragma once
// shard-bench's command line, with CLI11: one subcommand per family, each with its own
// --help; nccl-tests' names for the sweep (-b -e -f -n -w -d -o -r). Every option is typed and
// checked by a CLI11 validator as it is parsed (sizes with binary K/M/G suffixes, counts with
// a minimum, lists of device numbers, choices), so a mistake is a message naming the option
// and exit code 2, never a surprise later.
#include "collectives.hpp"
#include "common.hpp"
#include "report.hpp"

#include <CLI/CLI.hpp>

#include <optional>

namespace bench {

/// The name a message gives an option: its short and first long name ("-f/--stepfactor"),
/// or its only name.
inline std::string label_of(const std::string& names) {
  std::vector<std::string> parts;
  std::stringstream list(names);
  for (std::string part; std::getline(list, part, ',');) parts.push_back(part);
  if (parts.size() > 1 && parts[0].size() == 2) return parts[0] + "/" + parts[1];
  return parts.empty() ? names : parts[0];
}

/// A CLI11 transformer that turns a size with binary K/M/G suffixes into its number of bytes
/// (parse_size), at least `minimum`. A mistake throws usage_error naming the option as
/// `label` (exit status 2 with that message).
inline CLI::Validator size_at_least(std::size_t minimum, std::string label) {
  return CLI::Validator(
      [minimum, label](std::string& text) -> std::string {
        text = std::to_string(parse_size(text, label, minimum));
        return {};
      },
      "SIZE");
}

/// A CLI11 transformer of a plain count (parse_count: no suffix), at least `minimum`.
inline CLI::Validator count_at_least(std::size_t minimum, std::string label) {
  return CLI::Validator(
      [minimum, label](std::string& text) -> std::string {
        text = std::to_string(parse_count(text, label, minimum));
        return {};
      },
      minimum == 0 ? "COUNT" : "COUNT>=" + std::to_string(minimum));
}

/// add_option with a size (count) transformer named after the option.
template <class T>
CLI::Option* add_size(CLI::App* app, const std::string& names, T& value, const std::string& help, std::size_t minimum) {
  return app->add_option(names, value, help)->transform(size_at_least(minimum, label_of(names)));
}
template <class T>
CLI::Option* add_count(CLI::App* app, const std::string& names, T& value, const std::string& help, std::size_t minimum) {
  return app->add_option(names, value, help)->transform(count_at_least(minimum, label_of(names)));
}

/// What parse() decided: run `o`, or exit now with `exit` (after --help, --version, -l).
struct parsed {
  options o;
  std::optional<int> exit;
};

inline void print_test_list(std::ostream& os, const std::string& command) {
  table t({"key", "command", "what it measures"});
  for (auto& info : test_list())
    if (command.empty() || command == "all" || info.command == command) t.row({info.key, info.command, info.description});
  t.print(os);
  os << "\nRun one or more with -t KEY (repeatable); the keys also name the JSON entries and the pictures.\n";
}

inline parsed parse_command_line(int argc, char** argv) {
  parsed out;
  options& o = out.o;
  for (int i = 0; i < argc; ++i) o.command_line.emplace_back(argv[i]);

  CLI::App app{"shard-bench " + shard_version() +
               ": a machine's shards and links, measured as nvbandwidth, p2pBandwidthLatencyTest and nccl-tests measure "
               "them (every transfer verified), and shard's algorithms on them. Runs on every GPU when there are GPUs (and "
               "this binary has CUDA), else on emulated devices on the host, and says which.",
               "shard-bench"};
  app.set_version_flag("--version", "shard-bench " + shard_version());
  app.require_subcommand(0, 1);
  bool list_all = false;
  app.add_flag("-l,--list", list_all, "list the tests (their keys) of every command and exit");
  app.footer(
      "Exit status: 0 all figures measured and verified; 1 an error; 2 a command-line mistake; 3 a transfer or result "
      "failed verification; 4 the summary's bandwidth is below --min-bw.\nSIZE accepts binary K, M, G suffixes. "
      "docs/interconnect.md explains every figure and how it compares with the other tools.");

  struct command {
    const char* name;
    const char* help;
    bool measures, p2p, sweep, algorithms, model;
  };
  const command commands[] = {
      {"topo", "the shards' devices and the route between every pair", true, false, false, false, false},
      {"p2p", "bandwidth (uni-, bidirectional; copy engines and SM copies), latency, all-to-one and one-to-all between shards",
       true, true, false, false, false},
      {"host", "host-to-device and device-to-host bandwidth, each shard alone and all at once, copy engines and SM copies",
       true, true, false, false, false},
      {"collectives", "all-reduce, all-gather, reduce-scatter, all-to-all, broadcast over a size sweep (nccl-tests' figures)",
       true, false, true, false, false},
      {"algorithms", "shard's algorithms over 1..G shards and a size sweep: time (from the library's stats), throughput, "
                     "scaling, bytes moved", true, false, false, true, false},
      {"model", "projected time per phase on a described machine (--preset, --machine or --from-measured)", false, false,
       false, false, true},
      {"all", "topo, p2p, host, collectives, algorithms, then the model of this machine from its p2p figures", true, true,
       true, true, false},
  };
  bool list_sub = false, skip_verification = false;
  std::vector<CLI::Option*> warmups;  // -w of each command: given or not
  for (const auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    sub->add_flag("-l,--list", list_sub, "list this command's tests (their keys) and exit");
    if (c.measures) {
      sub->add_option("-t,--test", o.tests, "run only this test (repeatable; keys: -l)");
      sub->add_option("--backend", o.backend, "auto (GPUs if any), host (emulated devices) or cuda")
          ->check(CLI::IsMember({"auto", "host", "cuda"}));
      add_count(sub, "--shards", o.shards, "shards (host: emulated devices, default SHARD_HOST_DEVICES or 4; cuda: one per GPU, "
                                          "more are mapped round robin)", 1);
      sub->add_option("--devices", o.devices, "these GPUs (or emulated devices), one shard each: 0,2,5")
          ->delimiter(',')
          ->transform(count_at_least(0, "--devices"));
      sub->add_option("--json", o.json_path, "write every figure, the settings and the provenance as JSON (- : stdout, "
                                             "the tables then go to stderr)");
      sub->add_option("--csv", o.csv_path, "write one row per figure as CSV");
      sub->add_option("--svg", o.svg_dir, "write one picture per test (named by its key) as SVG into this directory");
      sub->add_option("--baseline", o.baseline_path, "an earlier run's JSON: print every figure's ratio to it");
      sub->add_option("--min-bw", o.min_bw, "exit with status 4 when the summary's average bandwidth (GB/s) is below this")
          ->check(CLI::NonNegativeNumber);
      add_count(sub, "--samples", o.samples, "measure each figure this many times; the median is reported, min/max/stdev "
                                            "go to the JSON (default 1)", 1);
      sub->add_flag("--skip-verification", skip_verification, "do not check the transferred data (nor the algorithms' results)");
      sub->add_flag("--quick", o.quick, "small sizes, few repetitions (a smoke run)");
      sub->add_flag("-q,--quiet", o.quiet, "no progress line on stderr");
    }
    if (c.p2p) {
      add_size(sub, "--bytes", o.p2p_bytes, "bytes per copy (default 256M on GPUs, 16M emulated)", 8);
      add_count(sub, "--reps", o.p2p_reps, "copies per timed loop (default 10 on GPUs, 5 emulated)", 1);
      sub->add_option("--direction", o.direction, "p2p copies: write (the source pushes; default) or read (the destination pulls)")
          ->check(CLI::IsMember({"read", "write"}));
      add_size(sub, "--latency-bytes", o.latency_bytes,
               "bytes per latency copy (default 16: one int4, as p2pBandwidthLatencyTest)", 1);
      add_count(sub, "--latency-reps", o.latency_reps, "copies per latency loop (default 100)", 1);
    }
    if (c.sweep || c.algorithms) {
      add_count(sub, "-n,--iters", o.iters, "collectives: timed iterations queued back to back with one wait; algorithms: calls per size (default 20 on GPUs, 5 emulated)", 1);
      warmups.push_back(add_count(sub, "-w,--warmup_iters,--warmup", o.warmup, "warm-up iterations (collectives: 5 on GPUs, 1 emulated; algorithms: 1)", 0));
      add_count(sub, "-f,--stepfactor", o.step_factor, "size multiplier between steps of the sweep (default 4)", 2);
    }
    if (c.sweep) {
      add_size(sub, "-b,--minbytes,--min-bytes", o.min_bytes, "smallest size (default 1K)", 1);
      add_size(sub, "-e,--maxbytes,--max-bytes", o.max_bytes, "largest size (default 1G on GPUs, 16M emulated)", 1);
      sub->add_option("-d,--datatype", o.datatype, "element type")->check(CLI::IsMember(datatype_names()));
      sub->add_option("-o,--op", o.op, "reduction of all_reduce and reduce_scatter")->check(CLI::IsMember(op_names()));
      add_count(sub, "-r,--root", o.root, "root shard of broadcast (default 0)", 0);
    }
    if (c.algorithms) {
      add_size(sub, "--min-elements", o.min_elements, "smallest element count of the algorithms' sweep", 1);
      add_size(sub, "--max-elements", o.max_elements, "largest element count (default 256M on GPUs, 4M emulated)", 1);
    }
    if (c.model) {
      sub->add_option("--preset", o.preset, "a described machine")->check(CLI::IsMember({"dgx-h100", "pcie-4gpu", "2x8-h100-ib", "4x8-h100-ib"}));
      sub->add_option("--machine", o.machine_path, "a machine as JSON (the format --out writes)");
      sub->add_option("--from-measured", o.from_measured, "the JSON of a shard-bench p2p run");
      add_size(sub, "--elements", o.model_elements, "elements of the projected calls (default 16M)", 1);
      sub->add_option("--out", o.out_path, "write the machine as JSON");
      sub->add_option("--json", o.json_path, "write the projections as JSON (- : stdout)");
      sub->add_flag("--quick", o.quick, "a small element count");
    }
  }

  // "shard-bench help" as the old tool took it, and as git and cmake users type it.
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);
  if (!args.empty() && args.back() == "help") args.back() = "--help";
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();  // the selected subcommand's help, when --help followed one
    out.exit = exit_ok;
    return out;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    out.exit = exit_ok;
    return out;
  } catch (const CLI::CallForVersion&) {
    std::cout << "shard-bench " << shard_version() << '\n';
    out.exit = exit_ok;
    return out;
  } catch (const CLI::ParseError& e) {
    throw usage_error(e.what());
  }
  const auto subs = app.get_subcommands();
  o.command = subs.empty() ? "" : subs.front()->get_name();
  if (list_all || list_sub) {
    print_test_list(std::cout, list_all ? "" : o.command);
    out.exit = exit_ok;
    return out;
  }
  if (o.command.empty()) throw usage_error("no command given (topo, p2p, host, collectives, algorithms, model or all)");

  o.verify = !skip_verification;
  for (const auto* w : warmups) o.warmup_given = o.warmup_given || w->count() != 0;
  if (o.min_bytes && o.max_bytes && o.min_bytes > o.max_bytes) throw usage_error("-b/--minbytes is larger than -e/--maxbytes");
  if (o.min_elements && o.max_elements && o.min_elements > o.max_elements)
    throw usage_error("--min-elements is larger than --max-elements");
  for (const auto& key : o.tests) {
    const auto it = std::find_if(test_list().begin(), test_list().end(), [&](const test_info& t) { return t.key == key; });
    if (it == test_list().end()) throw usage_error("-t: unknown test \"" + key + "\" (shard-bench -l lists them)");
    if (o.command != "all" && it->command != o.command)
      throw usage_error("-t: test \"" + key + "\" belongs to shard-bench " + it->command + ", not " + o.command);
  }
  return out;
}

}  // namespace bench
