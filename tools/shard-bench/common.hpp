#pragma once
// shard-bench: options, the context under test, measured figures and their samples, the
// records every table, JSON entry, CSV row and baseline comparison is made of, aligned
// tables, and the progress line.
#include <shard/shard.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

/// JSON documents keep their members in the order written.
using json = nlohmann::ordered_json;

/// A command-line mistake: printed with a hint to --help, exit code 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Exit codes (docs/interconnect.md): 0 every figure measured and verified; 1 an error;
/// 2 a command-line mistake; 3 a transfer or result failed verification; 4 the summary's
/// bandwidth is below --min-bw.
enum exit_code : int { exit_ok = 0, exit_error = 1, exit_usage = 2, exit_wrong = 3, exit_below_min_bw = 4 };

struct options {
  std::string command;                 // topo | p2p | host | collectives | algorithms | model | all
  std::vector<std::string> command_line;
  std::vector<std::string> tests;      // -t: only these test keys (empty: every test of the command)
  bool list = false;                   // -l: list the test keys and exit
  std::string backend = "auto";        // auto | host | cuda
  std::size_t shards = 0;              // 0: every GPU, or SHARD_HOST_DEVICES (default 4) emulated devices
  std::vector<int> devices;            // --devices: these GPUs (or emulated devices), one shard each
  std::string json_path, csv_path, svg_dir, baseline_path;
  double min_bw = 0;                   // --min-bw GB/s (0: no threshold)
  bool quick = false, quiet = false, verify = true;
  std::size_t samples = 1;             // --samples: each figure measured this many times (median kept)
  // p2p and host links
  std::string direction = "write";     // write: the source pushes; read: the destination pulls
  std::size_t p2p_bytes = 0, p2p_reps = 0, latency_bytes = 16, latency_reps = 0;
  // collectives (nccl-tests' -b -e -f -n -w -d -o -r) and algorithms
  std::size_t min_bytes = 0, max_bytes = 0, step_factor = 0, iters = 0, warmup = 0, root = 0;
  std::string datatype = "float", op = "sum";
  std::size_t min_elements = 0, max_elements = 0;
  // model
  std::string machine_path, preset, from_measured, out_path;
  std::size_t model_elements = 0;
  bool warmup_given = false;
};

/// "64M", "1K", "4096", "2G": binary multiples; at least `minimum`.
/// A size with an optional binary K/M/G suffix, at least `minimum`; a mistake throws
/// usage_error, its message prefixed with "OPTION: " (none when `option` is empty: CLI11 adds
/// the option's name itself when this runs as a validator, cli.hpp).
inline std::size_t parse_size(const std::string& text, const std::string& option, std::size_t minimum = 0) {
  const std::string prefix = option.empty() ? "" : option + ": ";
  const std::string hint = prefix + "\"" + text + "\" is not a size (examples: 4096, 64K, 16M, 1G)";
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw usage_error(hint);
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (const std::exception&) {
    throw usage_error(hint);
  }
  const std::string suffix = text.substr(pos);
  int shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (!suffix.empty()) throw usage_error(hint);
  if (shift && v > (~0ull >> shift)) throw usage_error(prefix + "\"" + text + "\" is too large");
  v <<= shift;
  if (v < minimum) throw usage_error(prefix + text + " is less than " + std::to_string(minimum));
  return static_cast<std::size_t>(v);
}

/// A plain count (no K/M/G: "--shards 4K" is a mistake, not 4096 shards), at least `minimum`.
inline std::size_t parse_count(const std::string& text, const std::string& option, std::size_t minimum = 0) {
  const std::string prefix = option.empty() ? "" : option + ": ";
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (!digits || text.size() > 12) throw usage_error(prefix + "\"" + text + "\" is not a count (a whole number such as 8)");
  const std::size_t v = std::stoull(text);
  if (v < minimum) throw usage_error(prefix + text + " is less than " + std::to_string(minimum));
  return v;
}

inline std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  std::ostringstream os;
  os << (b == static_cast<double>(static_cast<long long>(b)) ? std::setprecision(0) : std::setprecision(1)) << std::fixed
     << b << ' ' << units[u];
  return os.str();
}

inline std::string fixed(double v, int digits = 2) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

/// A figure measured `samples` times: the median is the figure; min, max and stdev go to the
/// JSON. NaN (not measured: no such route) has no samples.
struct figure {
  double value = NAN, min = NAN, max = NAN, stdev = NAN;
  std::size_t samples = 0;

  /// From the samples; non-finite ones (a dropped measurement) are left out.
  static figure of(std::vector<double> v) {
    figure f;
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
    if (v.empty()) return f;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    f.value = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    f.min = v.front();
    f.max = v.back();
    double mean = 0, sq = 0;
    for (double x : v) mean += x / static_cast<double>(n);
    for (double x : v) sq += (x - mean) * (x - mean);
    f.stdev = n > 1 ? std::sqrt(sq / static_cast<double>(n - 1)) : 0;
    f.samples = n;
    return f;
  }
};

/// One number of a run, as the CSV, the baseline comparison and the summary see it: which
/// test, which cell (label: "0->1", "GPU 2", "64 MiB", "1048576 elements, 2 shards"), its
/// metric and unit, whether more is better, how many bytes or elements were verified
/// wrong (-1: not verified).
struct record {
  std::string test, label, metric, unit;
  double bytes = 0;  // the transfer or buffer size (collectives, p2p) or elements (algorithms)
  figure f;
  long long wrong = -1;
  bool higher_is_better = true;
  bool headline = false;  // a bandwidth the summary averages
};

/// A figure as JSON: value, min, max, stdev (null when not measured) and samples; and back
/// (nlohmann_json's to_json / from_json, found by argument-dependent lookup: json(f),
/// j.get<figure>()).
inline void to_json(json& v, const figure& f) {
  auto number = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  v = json{{"value", number(f.value)}, {"min", number(f.min)}, {"max", number(f.max)}, {"stdev", number(f.stdev)},
           {"samples", f.samples}};
}
inline void from_json(const json& v, figure& f) {
  auto number = [&](const char* key) { return v.contains(key) && v.at(key).is_number() ? v.at(key).get<double>() : NAN; };
  f.value = number("value");
  f.min = number("min");
  f.max = number("max");
  f.stdev = number("stdev");
  f.samples = v.contains("samples") && v.at("samples").is_number_unsigned() ? v.at("samples").get<std::size_t>() : 0;
}

/// A record as one flat JSON object (its figure's members beside its own: the CSV's columns),
/// and back. from_json throws std::runtime_error naming a missing or mistyped member.
inline void to_json(json& v, const record& r) {
  v = json{{"test", r.test}, {"label", r.label}, {"metric", r.metric}, {"unit", r.unit}, {"bytes", r.bytes}};
  v.update(json(r.f));  // value, min, max, stdev, samples
  v["wrong"] = r.wrong;
  v["higher_is_better"] = r.higher_is_better;
  v["headline"] = r.headline;
}
inline void from_json(const json& v, record& r) {
  if (!v.is_object()) throw std::runtime_error("a record that is not a JSON object");
  auto text = [&](const char* key) {
    if (!v.contains(key) || !v.at(key).is_string())
      throw std::runtime_error(std::string("a record without a text \"") + key + "\"");
    return v.at(key).get<std::string>();
  };
  r.test = text("test");
  r.label = text("label");
  r.metric = text("metric");
  r.unit = v.contains("unit") && v.at("unit").is_string() ? v.at("unit").get<std::string>() : "";
  if (!v.contains("value") || !(v.at("value").is_number() || v.at("value").is_null()))
    throw std::runtime_error("a record without a numeric (or null) \"value\"");
  r.bytes = v.contains("bytes") && v.at("bytes").is_number() ? v.at("bytes").get<double>() : 0;
  r.f = v.get<figure>();
  r.wrong = v.contains("wrong") && v.at("wrong").is_number_integer() ? v.at("wrong").get<long long>() : -1;
  r.higher_is_better = !v.contains("higher_is_better") || v.at("higher_is_better").get<bool>();
  r.headline = v.contains("headline") && v.at("headline").get<bool>();
}

/// Columns right-aligned to their widest cell.
class table {
 public:
  explicit table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::ostream& os) const {
    std::vector<std::size_t> width;
    for (auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c) {
        if (width.size() <= c) width.push_back(0);
        width[c] = std::max(width[c], r[c].size());
      }
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      for (std::size_t c = 0; c < rows_[i].size(); ++c) os << (c ? "  " : "") << std::setw(static_cast<int>(width[c])) << rows_[i][c];
      os << '\n';
      if (i == 0) {
        std::size_t total = 0;
        for (auto w : width) total += w + 2;
        os << std::string(total > 2 ? total - 2 : 0, '-') << '\n';
      }
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

/// "[p2p] 12/48, 3 s left" on stderr: rewritten in place on a terminal, every 10% otherwise;
/// nothing with --quiet. The estimate assumes the remaining steps take as long as the
/// finished ones did on average.
class progress {
 public:
  progress(std::string what, std::size_t total, bool quiet)
      : what_(std::move(what)), total_(total), tty_(isatty(2) != 0), quiet_(quiet), start_(std::chrono::steady_clock::now()) {}
  void step() {
    ++done_;
    if (quiet_ || total_ == 0) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double left = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
    std::ostringstream line;
    line << '[' << what_ << "] " << done_ << '/' << total_;
    if (done_ < total_) line << ", " << eta(left) << " left";
    else line << ", done in " << eta(elapsed);
    if (tty_) {
      std::cerr << "\r" << line.str() << "\033[K" << std::flush;
      if (done_ == total_) std::cerr << '\n';
    } else if (done_ * 10 / total_ != (done_ - 1) * 10 / total_ || done_ == total_) {
      std::cerr << line.str() << '\n';
    }
  }
  static std::string eta(double s) {
    std::ostringstream os;
    if (s < 60) os << static_cast<int>(std::ceil(s)) << " s";
    else os << static_cast<int>(s / 60) << " min " << static_cast<int>(std::fmod(s, 60)) << " s";
    return os.str();
  }

 private:
  std::string what_;
  std::size_t total_, done_ = 0;
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point start_;
};

/// The shards under test.
struct target {
  shard::context ctx;
  bool emulated;
  std::vector<int> ordinals;  // the GPU (or emulated device) of each shard (empty: the topology's)
  bool spmd = false;          // the shards of several processes (shard-bench-mpi under mpirun)

  /// A context of the same kind with the first g shards (the scaling sweeps).
  shard::context with(std::size_t g) const {
    if (emulated) return shard::context::host(g);
    return shard::context::cuda(std::vector<int>(ordinals.begin(), ordinals.begin() + static_cast<std::ptrdiff_t>(g)));
  }
};

inline target make_target(const options& o) {
  if (o.backend != "auto" && o.backend != "host" && o.backend != "cuda")
    throw usage_error("--backend must be auto, host or cuda, not \"" + o.backend + "\"");
  if (!o.devices.empty() && o.shards != 0) throw usage_error("give --shards or --devices, not both");
  const int gpus = shard::context::cuda_device_count();
  auto check_devices = [&](std::size_t available, const char* what) {
    for (std::size_t i = 0; i < o.devices.size(); ++i) {
      if (o.devices[i] < 0 || static_cast<std::size_t>(o.devices[i]) >= available)
        throw usage_error("--devices: " + std::to_string(o.devices[i]) + " is not one of the " + std::to_string(available) + " " + what);
      for (std::size_t j = 0; j < i; ++j)
        if (o.devices[j] == o.devices[i]) throw usage_error("--devices: " + std::to_string(o.devices[i]) + " is named twice");
    }
  };
  if (o.backend == "host" || (o.backend == "auto" && gpus == 0)) {
    // Emulated devices are alike: --devices picks which of SHARD_HOST_DEVICES are named.
    const std::size_t available = shard::context::host_devices_from_environment();
    check_devices(std::max(available, o.devices.size()), "emulated devices (SHARD_HOST_DEVICES)");
    const std::size_t g = !o.devices.empty() ? o.devices.size() : (o.shards ? o.shards : available);
    std::vector<int> ids;
    for (std::size_t s = 0; s < g; ++s) ids.push_back(o.devices.empty() ? static_cast<int>(s) : o.devices[s]);
    return target{shard::context::host(g), true, ids};
  }
  // context::cuda() explains why when there is no GPU, or when this binary has no CUDA.
  if (gpus == 0) (void)shard::context::cuda();
  if (!o.devices.empty()) {
    check_devices(static_cast<std::size_t>(gpus), "GPUs");
    return target{shard::context::cuda(o.devices), false, o.devices};
  }
  const std::size_t g = o.shards ? o.shards : static_cast<std::size_t>(gpus);
  const auto ordinals = shard::context::round_robin_ordinals(g, static_cast<std::size_t>(gpus));
  return target{shard::context::cuda(ordinals), false, ordinals};
}

/// Every rank's `x`, in rank order (collective in an SPMD context; {x} in one process).
template <class T>
std::vector<T> over_ranks(shard::detail::context_impl& impl, T x) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (!impl.spmd()) return {x};
  std::vector<T> all(static_cast<std::size_t>(impl.ranks()));
  all[static_cast<std::size_t>(impl.rank())] = x;
  const std::vector<std::size_t> bytes(all.size(), sizeof(T));
  impl.communicate("shard-bench's gather of figures", [&](auto deadline) {
    return impl.comm().all_gather_v(&all[static_cast<std::size_t>(impl.rank())], all.data(), bytes, deadline);
  });
  return all;
}
/// The largest of every rank's x: a time, taken on every rank, is the slowest rank's.
inline double max_over_ranks(shard::detail::context_impl& impl, double x) {
  double m = x;
  for (double y : over_ranks(impl, x)) m = std::isfinite(m) && std::isfinite(y) ? std::max(m, y) : NAN;
  return m;
}
/// The sum of every rank's count (-1, not counted, when every rank says so).
inline long long sum_over_ranks(shard::detail::context_impl& impl, long long x) {
  long long sum = -1;
  for (long long y : over_ranks(impl, x)) sum = sum < 0 ? y : (y < 0 ? sum : sum + y);
  return sum;
}
/// Every rank waits for the others (a timed loop then starts together).
inline void barrier(shard::detail::context_impl& impl) { (void)over_ranks(impl, 0); }

/// Seconds of a callable, by the host's steady clock.
template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The sweep a run used, its defaults resolved: sizes (bytes or elements), step factor, timed
/// iterations (or calls) and warm-ups. Written into each test's JSON entry.
struct sweep_settings {
  std::size_t lo = 0, hi = 0, factor = 4, iters = 0, warmup = 0;
  json to_json(const char* unit) const {
    return json{{std::string("min_") + unit, lo}, {std::string("max_") + unit, hi}, {"stepfactor", factor},
                {"iters", iters}, {"warmup_iters", warmup}};
  }
};

/// Sizes lo, lo*factor, ... up to hi (hi included).
inline std::vector<std::size_t> sweep(std::size_t lo, std::size_t hi, std::size_t factor = 4) {
  std::vector<std::size_t> out;
  for (std::size_t s = std::max<std::size_t>(lo, 1); s <= hi; s *= factor) {
    out.push_back(s);
    if (s > hi / factor) break;
  }
  if (out.empty() || out.back() != hi) out.push_back(hi);
  return out;
}

inline json matrix_json(const std::vector<std::vector<double>>& m) {
  json v = json::array();
  for (auto& row : m) {
    json r = json::array();
    for (double x : row) r.push_back(std::isfinite(x) ? json(x) : json(nullptr));
    v.push_back(r);
  }
  return v;
}

inline std::vector<std::vector<double>> matrix_from_json(const json& v) {
  if (!v.is_array()) throw std::runtime_error("expected a matrix (an array of arrays of numbers)");
  std::vector<std::vector<double>> m;
  for (auto& row : v) {
    if (!row.is_array()) throw std::runtime_error("expected a matrix (an array of arrays of numbers)");
    m.emplace_back();
    for (auto& x : row) {
      if (!x.is_null() && !x.is_number()) throw std::runtime_error("expected a matrix (an array of arrays of numbers)");
      m.back().push_back(x.is_null() ? NAN : x.get<double>());
    }
  }
  return m;
}

/// A test the tool can run: its stable key (the -t argument, the JSON entry, the picture's
/// file name), the command that runs it, and what it measures.
struct test_info {
  std::string key, command, description;
};

/// Where a family writes what it measured.
struct run_output {
  std::ostream& os;              // the tables
  json& tests;                   // the JSON document's "tests": one entry per test key
  std::vector<record>& records;  // the CSV's rows, the summary's and the baseline's figures
  const std::string& svg_dir;    // where the pictures go (empty: none)
  const std::string& where;      // the pictures' subtitle (backend and shards)
};

/// A family of tests, one command of the tool: its tests (key, command, description), in the
/// order -l lists them, and `run`, which measures the selected ones and prints them, writes
/// their JSON entries, records and pictures. Each family registers itself in its own header
/// (family_registration); the tool runs every registered family in `order`, and each runs
/// only its selected tests.
struct family {
  std::string command;
  int order = 0;
  std::vector<test_info> tests;
  std::function<void(const target&, const options&, run_output&)> run;
};

/// The registered families, in `order`.
inline std::vector<family>& family_registry() {
  static std::vector<family> registry;
  return registry;
}

/// Registers a family at static initialisation (an inline variable in the family's header).
struct family_registration {
  explicit family_registration(family f) {
    auto& r = family_registry();
    const auto at = std::upper_bound(r.begin(), r.end(), f.order, [](int o, const family& x) { return o < x.order; });
    r.insert(at, std::move(f));
  }
};

/// Every registered family's tests, in family order.
inline const std::vector<test_info>& test_list() {
  static const std::vector<test_info> tests = [] {
    std::vector<test_info> all;
    for (const auto& f : family_registry()) all.insert(all.end(), f.tests.begin(), f.tests.end());
    return all;
  }();
  return tests;
}

/// Whether test `key` runs in this invocation: it belongs to the command (all: every
/// command) and, when -t was given, it was named.
inline bool selected(const options& o, const std::string& key) {
  for (const auto& t : test_list())
    if (t.key == key) {
      const bool in_command = o.command == "all" || o.command == t.command;
      if (!in_command) return false;
      return o.tests.empty() || std::find(o.tests.begin(), o.tests.end(), key) != o.tests.end();
    }
  return false;
}

/// The tests of `command` (in test_list order) that run in this invocation.
inline std::vector<test_info> selected_tests(const options& o, const std::string& command) {
  std::vector<test_info> out;
  for (const auto& t : test_list())
    if (t.command == command && selected(o, t.key)) out.push_back(t);
  return out;
}

}  // namespace bench
