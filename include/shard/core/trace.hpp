#pragma once
/// @file core/trace.hpp
/// A context's trace (SHARD_TRACE=FILE, or context::start_trace): every public call and phase
/// on the host's track, every host wait on a track of its own, and on one track per shard the
/// primitives and copies that ran there, plus one span per call and phase with the shard's busy
/// time in it; written as Chrome's trace-event JSON, which Perfetto (ui.perfetto.dev) and
/// chrome://tracing open.
#include <shard/config.hpp>
#include <shard/core/device.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

class trace_recorder {
 public:
  /// At most this many spans are kept (calls, phases, waits and activities together); past
  /// it the trace says that it stopped ("truncated": true in its metadata).
  static constexpr std::size_t max_spans = std::size_t{1} << 22;

  trace_recorder() : steady0_(std::chrono::steady_clock::now()), system0_(std::chrono::system_clock::now()) {}

  enum class track { call, phase, wait };
  /// A span of the host: a public call, a phase of one, or a wait of the host on the shards.
  void host_span(track t, const std::string& name, std::chrono::steady_clock::time_point begin,
                 std::chrono::steady_clock::time_point end) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!room()) return;
    host_.push_back(host_record{t, name, begin, end});
  }
  /// What ran on `shard`'s queues.
  void shard_spans(std::size_t shard, const std::vector<activity>& spans) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shard >= shards_.size()) shards_.resize(shard + 1);
    for (const auto& a : spans) {
      if (!room()) return;
      shards_[shard].push_back(a);
    }
  }
  /// Whether no public call was recorded (waits alone, a context's last one in its
  /// destructor, make no trace worth writing).
  bool empty() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& h : host_)
      if (h.kind == track::call) return false;
    return true;
  }

  /// The trace as JSON (Chrome's trace-event format, object form). `shards`: the shards of
  /// the context (their devices name the tracks); `local`: those this process drove; `rank`:
  /// the process id of every event (an SPMD context's rank, so that the ranks' files merge).
  void write(std::ostream& os, const topology& shards, const std::vector<std::size_t>& local, int rank) const {
    std::lock_guard<std::mutex> lock(mutex_);
    os << "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":\"shard\",\"truncated\":"
       << (truncated_ ? "true" : "false") << "},\"traceEvents\":[\n";
    bool first = true;
    const auto event = [&](const std::string& body) {
      os << (first ? "" : ",\n") << '{' << body << '}';
      first = false;
    };
    const std::string pid = "\"pid\":" + std::to_string(rank);
    event("\"name\":\"process_name\",\"ph\":\"M\"," + pid + ",\"args\":{\"name\":\"shard (rank " + std::to_string(rank) + ")\"}");
    event("\"name\":\"thread_name\",\"ph\":\"M\"," + pid + ",\"tid\":0,\"args\":{\"name\":\"host: calls and phases\"}");
    event("\"name\":\"thread_name\",\"ph\":\"M\"," + pid + ",\"tid\":1,\"args\":{\"name\":\"host: waits\"}");
    for (auto s : local) {
      const auto& p = shards.shards[s];
      event("\"name\":\"thread_name\",\"ph\":\"M\"," + pid + ",\"tid\":" + std::to_string(tid(s)) +
            ",\"args\":{\"name\":\"shard " + std::to_string(s) + " (device " + std::to_string(p.ordinal) + ", " +
            escaped(p.name) + ")\"}");
      event("\"name\":\"thread_sort_index\",\"ph\":\"M\"," + pid + ",\"tid\":" + std::to_string(tid(s)) +
            ",\"args\":{\"sort_index\":" + std::to_string(tid(s)) + "}");
    }
    for (const auto& h : host_) {
      const char* cat = h.kind == track::call ? "call" : h.kind == track::phase ? "phase" : "wait";
      event("\"name\":\"" + escaped(h.name) + "\",\"cat\":\"" + cat + "\",\"ph\":\"X\",\"ts\":" + micros(h.begin) +
            ",\"dur\":" + duration(h.begin, h.end) + "," + pid + ",\"tid\":" + (h.kind == track::wait ? "1" : "0"));
    }
    for (auto s : local) {
      std::vector<activity> spans = s < shards_.size() ? shards_[s] : std::vector<activity>{};
      std::sort(spans.begin(), spans.end(), [](const activity& a, const activity& b) { return a.begin < b.begin; });
      const std::string where = pid + ",\"tid\":" + std::to_string(tid(s));
      // Every call and phase on every shard: the hull of the shard's work in it, and its busy time.
      for (const auto& h : host_) {
        if (h.kind == track::wait) continue;
        auto from = h.end, to = h.begin;
        std::vector<activity> inside;
        for (auto it = std::lower_bound(spans.begin(), spans.end(), h.begin,
                                        [](const activity& a, std::chrono::steady_clock::time_point t) { return a.begin < t; });
             it != spans.end() && it->begin < h.end; ++it) {
          from = std::min(from, it->begin);
          to = std::max(to, it->end);
          inside.push_back(*it);
        }
        if (to < from) from = to = h.begin;  // no work of this shard in it
        const double busy = static_cast<double>(covered_ns(inside)) / 1e6;
        event("\"name\":\"" + escaped(h.name) + "\",\"cat\":\"" + (h.kind == track::call ? "shard call" : "shard phase") +
              "\",\"ph\":\"X\",\"ts\":" + micros(from) + ",\"dur\":" + duration(from, to) + "," + where +
              ",\"args\":{\"busy_ms\":" + number(busy) + "}");
      }
      for (const auto& a : spans)
        event(std::string("\"name\":\"") + a.name + "\",\"cat\":\"" + (a.copy ? "copy" : "primitive") +
              "\",\"ph\":\"X\",\"ts\":" + micros(a.begin) + ",\"dur\":" + duration(a.begin, a.end) + "," + where);
    }
    os << "\n]}\n";
  }

 private:
  struct host_record {
    track kind;
    std::string name;
    std::chrono::steady_clock::time_point begin, end;
  };
  static int tid(std::size_t shard) { return 100 + static_cast<int>(shard); }
  bool room() {
    if (count_ >= max_spans) {
      truncated_ = true;
      return false;
    }
    ++count_;
    return true;
  }
  /// Microseconds since the Unix epoch (the steady clock anchored to the system clock once):
  /// traces of several processes on one machine line up.
  std::string micros(std::chrono::steady_clock::time_point t) const {
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(t - steady0_) +
                       std::chrono::duration_cast<std::chrono::nanoseconds>(system0_.time_since_epoch());
    return number(static_cast<double>(since.count()) / 1e3);
  }
  static std::string duration(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return number(std::max(0.0, std::chrono::duration<double, std::micro>(b - a).count()));
  }
  static std::string number(double x) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", x);
    return text;
  }
  static std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out.push_back(c);
    }
    return out;
  }

  const std::chrono::steady_clock::time_point steady0_;
  const std::chrono::system_clock::time_point system0_;
  mutable std::mutex mutex_;
  std::vector<host_record> host_;
  std::vector<std::vector<activity>> shards_;
  std::size_t count_ = 0;
  bool truncated_ = false;
};

}  // namespace detail
SHARD_NAMESPACE_END
