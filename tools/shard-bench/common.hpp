#pragma once
// shard-bench: options, the context under test, aligned tables, the progress line.
#include <shard/shard.hpp>

#include "json.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

/// A command-line mistake: printed with the usage, exit code 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  std::string command;
  std::string backend = "auto";  // auto | host | cuda
  std::size_t shards = 0;        // 0: every GPU, or SHARD_HOST_DEVICES (default 4) emulated devices
  std::string json_path, svg_dir;
  bool quick = false;  // small sizes and few repetitions (CI)
  // p2p
  std::size_t p2p_bytes = 0, p2p_reps = 0, latency_reps = 0, latency_bytes = 4;
  // collectives and algorithms sweeps (bytes / elements); 0 = default for the backend
  std::size_t min_bytes = 0, max_bytes = 0, min_elements = 0, max_elements = 0, reps = 0;
  // model
  std::string machine_path, preset, from_measured, out_path;
  std::size_t model_elements = 0;
};

/// "64M", "1K", "4096", "2G": binary multiples.
inline std::size_t parse_size(const std::string& text, const std::string& option) {
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (const std::exception&) {
    throw usage_error(option + ": \"" + text + "\" is not a size (examples: 4096, 64K, 16M, 1G)");
  }
  const std::string suffix = text.substr(pos);
  if (suffix == "K" || suffix == "k") v <<= 10;
  else if (suffix == "M" || suffix == "m") v <<= 20;
  else if (suffix == "G" || suffix == "g") v <<= 30;
  else if (!suffix.empty() || text[0] == '-') throw usage_error(option + ": \"" + text + "\" is not a size (examples: 4096, 64K, 16M, 1G)");
  return static_cast<std::size_t>(v);
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

/// "[p2p] 12/48" on stderr: rewritten in place on a terminal, every 10% otherwise.
class progress {
 public:
  progress(std::string what, std::size_t total) : what_(std::move(what)), total_(total), tty_(isatty(2) != 0) {}
  void step() {
    ++done_;
    if (tty_) {
      std::cerr << "\r[" << what_ << "] " << done_ << '/' << total_ << std::flush;
      if (done_ == total_) std::cerr << '\n';
    } else if (total_ > 0 && (done_ * 10 / total_ != (done_ - 1) * 10 / total_ || done_ == total_)) {
      std::cerr << '[' << what_ << "] " << done_ << '/' << total_ << '\n';
    }
  }

 private:
  std::string what_;
  std::size_t total_, done_ = 0;
  bool tty_;
};

/// The shards under test.
struct target {
  shard::context ctx;
  bool emulated;
  std::vector<int> ordinals;  // CUDA: the GPU of each shard

  /// A context of the same kind with the first g shards (the scaling sweeps).
  shard::context with(std::size_t g) const {
    if (emulated) return shard::context::host(g);
    return shard::context::cuda(std::vector<int>(ordinals.begin(), ordinals.begin() + static_cast<std::ptrdiff_t>(g)));
  }
};

inline target make_target(const options& o) {
  if (o.backend != "auto" && o.backend != "host" && o.backend != "cuda")
    throw usage_error("--backend must be auto, host or cuda, not \"" + o.backend + "\"");
  const int gpus = shard::context::cuda_device_count();
  if (o.backend == "host" || (o.backend == "auto" && gpus == 0))
    return target{shard::context::host(o.shards ? o.shards : shard::context::host_devices_from_environment()), true, {}};
  // context::cuda() explains why when there is no GPU, or when this binary has no CUDA.
  if (gpus == 0) (void)shard::context::cuda();
  const std::size_t g = o.shards ? o.shards : static_cast<std::size_t>(gpus);
  const auto ordinals = shard::context::round_robin_ordinals(g, static_cast<std::size_t>(gpus));
  return target{shard::context::cuda(ordinals), false, ordinals};
}

/// Seconds of a callable, by the host's steady clock.
template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// Sizes lo, lo*4, ... up to hi (hi included).
inline std::vector<std::size_t> sweep(std::size_t lo, std::size_t hi) {
  std::vector<std::size_t> out;
  for (std::size_t s = std::max<std::size_t>(lo, 1); s <= hi; s *= 4) out.push_back(s);
  if (out.empty() || out.back() != hi) out.push_back(hi);
  return out;
}

inline json::value matrix_json(const std::vector<std::vector<double>>& m) {
  json::value v = json::value::array();
  for (auto& row : m) v.push(json::value(row));
  return v;
}

inline std::vector<std::vector<double>> matrix_from_json(const json::value& v) {
  std::vector<std::vector<double>> m;
  for (auto& row : v.items()) {
    m.emplace_back();
    for (auto& x : row.items()) m.back().push_back(x.is_null() ? NAN : x.as_number());
  }
  return m;
}

}  // namespace bench
