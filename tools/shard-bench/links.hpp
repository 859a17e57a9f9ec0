#pragma once
// shard-bench p2p and host: the links of a machine, measured as the anchor tools measure
// them (docs/interconnect.md compares the methods):
// - every timed loop is queued behind a blocking kernel (the gate) and released at once, so
//   the figures exclude the host's enqueue time (p2pBandwidthLatencyTest's delay kernel);
//   `reps` copies back to back between two events of the issuing queue;
// - p2p copies are writes by default (the source's queue issues them and pushes), reads with
//   --direction read; copy-engine copies (cudaMemcpyPeerAsync) and SM copies (a copy kernel
//   across peer pointers);
// - a copy within one shard counts its bytes twice (read and write), and the bidirectional
//   diagonal four times, as p2pBandwidthLatencyTest counts them;
// - latency: small copies behind the gate (device time per copy), and, as its own panel,
//   the host's wall time per copy with enqueue and the final wait included;
// - host links: host -> device and device -> host for each shard alone and all at once,
//   copy engines and SM copies (a kernel reading or writing pinned host memory);
// - every destination is verified after the timed loop (verify.hpp).
#include "common.hpp"
#include "svg.hpp"
#include "verify.hpp"

#include <shard/core/buffer.hpp>
#include <shard/core/run.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/transport/copy.hpp>

#include <functional>
#include <map>

namespace bench {

/// One table of a test: a rows x cols grid of figures (a p2p matrix, or one row of per-shard
/// figures), with the bytes verified wrong in each cell.
struct panel {
  std::string name;   // the metric: "gbps", "latency_us", "host_latency_us"
  std::string title;  // printed above the table
  std::string unit;
  std::vector<std::string> rows, cols;
  std::vector<std::vector<figure>> cells;
  std::vector<std::vector<long long>> wrong;
  bool higher_is_better = true;
  bool headline = false;  // off-diagonal bandwidths: averaged by the summary
  bool square = true;     // p2p: rows are sources, columns destinations

  panel(std::string n, std::string t, std::string u, std::vector<std::string> r, std::vector<std::string> c)
      : name(std::move(n)), title(std::move(t)), unit(std::move(u)), rows(std::move(r)), cols(std::move(c)) {
    cells.assign(rows.size(), std::vector<figure>(cols.size()));
    wrong.assign(rows.size(), std::vector<long long>(cols.size(), -1));
  }
  std::string label(std::size_t r, std::size_t c) const { return square ? rows[r] + "->" + cols[c] : cols[c]; }
};

/// A test of links: its key, its panels, and its settings.
struct link_test {
  std::string key, description;
  std::size_t bytes = 0, reps = 0;
  std::vector<panel> panels;
  json settings = json::object();
};

inline std::vector<std::string> shard_labels(std::size_t g) {
  std::vector<std::string> out;
  for (std::size_t s = 0; s < g; ++s) out.push_back(std::to_string(s));
  return out;
}

inline long long add_wrong(long long a, long long b) { return a < 0 ? b : (b < 0 ? a : a + b); }

namespace links_detail {

using shard::transport::issuer;
using shard::transport::ordering;
using shard::transport::route;

/// Device memory of every shard: [source region | destination region | (wide) receive slots].
struct buffers {
  std::vector<shard::detail::device_buffer<char>> owned;
  std::size_t cap = 0;
  char* src(std::size_t s) { return owned[s].data(); }
  char* dst(std::size_t s) { return owned[s].data() + cap; }
  char* slot(std::size_t s, std::size_t k) { return owned[s].data() + (2 + k) * cap; }
};

/// A timed loop whose blocking kernel timed out measured the host's enqueue too: dropped
/// (NaN), with a warning.
inline void warn_timeout(const char* where) {
  std::cerr << "shard-bench: warning: a blocking kernel timed out before its loop was queued (" << where
            << "): that sample is dropped; lower --reps or --latency-reps\n";
}

/// Times `body` (which queues the copies) behind the gate: the gate blocks `first`, every other
/// shard in `also` waits for the start event, `first` waits for their ends. Returns ms (NaN
/// when the gate timed out). `gated` false: the same events without the gate (loops too long
/// for a queue to hold behind a kernel: the staged route's chunked copies).
inline double gated_ms(shard::detail::context_impl& impl, gate& g, std::size_t first, const std::vector<std::size_t>& also,
                       const std::function<void()>& body, bool gated = true) {
  std::shared_ptr<shard::detail::event> start, stop;
  shard::detail::run_and_wait(impl, [&] {
    gate_release release{g};
    if (gated) g.block(first);
    start = impl.dev(first).record_timed();
    for (std::size_t s : also)
      if (s != first) impl.dev(s).wait(start);
    body();
    for (std::size_t s : also)
      if (s != first) impl.dev(first).wait(impl.dev(s).record());
    stop = impl.dev(first).record_timed();
  });
  if (g.take_timeouts() > 0) {
    warn_timeout("one shard");
    return NAN;
  }
  return impl.dev(first).elapsed_ms(*start, *stop);
}

/// Times `body` with every shard of `shards` gated at once; returns each one's span in ms
/// (events on one device only: spans of different devices cannot be compared; NaN when a
/// gate timed out).
inline std::vector<double> gated_all_ms(shard::detail::context_impl& impl, gate& g, const std::vector<std::size_t>& shards,
                                        const std::function<void(std::size_t)>& body) {
  std::vector<std::shared_ptr<shard::detail::event>> start(shards.size()), stop(shards.size());
  shard::detail::run_and_wait(impl, [&] {
    gate_release release{g};
    for (std::size_t i = 0; i < shards.size(); ++i) {
      g.block(shards[i]);
      start[i] = impl.dev(shards[i]).record_timed();
    }
    for (std::size_t i = 0; i < shards.size(); ++i) {
      body(shards[i]);
      stop[i] = impl.dev(shards[i]).record_timed();
    }
  });
  std::vector<double> ms;
  const bool timed_out = g.take_timeouts() > 0;
  if (timed_out) warn_timeout("several shards");
  for (std::size_t i = 0; i < shards.size(); ++i)
    ms.push_back(timed_out ? NAN : impl.dev(shards[i]).elapsed_ms(*start[i], *stop[i]));
  return ms;
}

/// The longest span (NaN when any was dropped).
inline double longest_of(const std::vector<double>& spans) {
  double longest = 0;
  for (double x : spans) longest = std::isfinite(x) && std::isfinite(longest) ? std::max(longest, x) : NAN;
  return longest;
}

/// What the p2p tests share.
struct p2p_setup {
  shard::detail::context_impl& impl;
  gate& g;
  verifier& v;
  buffers& buf;
  std::size_t samples;
  issuer by;  // write: source; read: destination
  bool quiet;
};

/// One cell of a copy-engine bandwidth (or latency) matrix: a -> b (and b -> a), `reps`
/// copies of `bytes` on `how`. Returns the figure in GB/s (or us per copy) and the bytes wrong.
struct cell_result {
  figure f;
  long long wrong = -1;
};

inline cell_result ce_pair(p2p_setup& st, const std::string& key, std::size_t a, std::size_t b, std::size_t bytes,
                           std::size_t reps, route how, bool bidirectional, bool latency) {
  auto& impl = st.impl;
  const bool bi = bidirectional && a != b;
  const std::uint64_t seed_ab = pattern_seed(a, b, bytes), seed_ba = pattern_seed(b, a, bytes);
  auto copy = [&](std::size_t from, std::size_t to) {
    shard::transport::copy(impl, from, st.buf.src(from), to, st.buf.dst(to), bytes, how, ordering::caller, st.by);
  };
  shard::detail::run_and_wait(impl, [&] {
    st.v.fill(a, st.buf.src(a), bytes, seed_ab);
    st.v.fill(b, st.buf.dst(b), bytes, other_seed(seed_ab));
    if (bi) st.v.fill(b, st.buf.src(b), bytes, seed_ba), st.v.fill(a, st.buf.dst(a), bytes, other_seed(seed_ba));
  });
  // The queue that issues a -> b; staged copies use both queues, timed on the destination's.
  const std::size_t first = (how == route::staged || st.by == issuer::destination) ? b : a;
  std::vector<double> samples;
  for (std::size_t k = 0; k < st.samples; ++k) {
    const double ms = gated_ms(
        impl, st.g, first, {a, b},
        [&] {
          for (std::size_t r = 0; r < reps; ++r) {
            copy(a, b);
            if (bidirectional && a == b) copy(a, a);  // the diagonal: two copies within the shard
            if (bi) copy(b, a);
          }
        },
        how != route::staged);
    if (latency) {
      samples.push_back(ms * 1e3 / static_cast<double>(reps));
    } else {
      // Bytes as p2pBandwidthLatencyTest counts them: x2 both ways, x2 within one shard.
      const double count = static_cast<double>(bytes * reps) * (bidirectional ? 2 : 1) * (a == b ? 2 : 1);
      samples.push_back(count / (ms * 1e-3) / 1e9);
    }
  }
  cell_result out{figure::of(samples), -1};
  out.wrong = st.v.count_wrong(key, b, st.buf.dst(b), bytes, seed_ab);
  if (bi) out.wrong = add_wrong(out.wrong, st.v.count_wrong(key, a, st.buf.dst(a), bytes, seed_ba));
  return out;
}

/// Host wall time per small copy a -> b, queued and waited for (enqueue and one wait included).
inline figure host_latency(p2p_setup& st, std::size_t a, std::size_t b, std::size_t bytes, std::size_t reps, route how) {
  std::vector<double> samples;
  for (std::size_t k = 0; k < st.samples; ++k)
    samples.push_back(seconds([&] {
      shard::detail::run_and_wait(st.impl, [&] {
        for (std::size_t r = 0; r < reps; ++r)
          shard::transport::copy(st.impl, a, st.buf.src(a), b, st.buf.dst(b), bytes, how, ordering::queues);
      });
    }) * 1e6 / static_cast<double>(reps));
  return figure::of(samples);
}

/// An SM copy a -> b: a copy kernel on the issuing shard across the peer pointer (NaN when
/// that shard may not access the other's memory).
inline cell_result sm_pair(p2p_setup& st, const std::string& key, std::size_t a, std::size_t b, std::size_t bytes, std::size_t reps) {
  auto& impl = st.impl;
  const std::size_t on = st.by == issuer::source ? a : b;
  const std::size_t other = on == a ? b : a;
  if (!impl.peer_access(on, other)) return {};
  const std::size_t words = bytes / 8;
  const std::uint64_t seed = pattern_seed(a, b, bytes, 7);
  shard::detail::run_and_wait(impl, [&] {
    st.v.fill(a, st.buf.src(a), words * 8, seed);
    st.v.fill(b, st.buf.dst(b), words * 8, other_seed(seed));
  });
  std::vector<double> samples;
  for (std::size_t k = 0; k < st.samples; ++k) {
    const double ms = gated_ms(impl, st.g, on, {a, b}, [&] {
      for (std::size_t r = 0; r < reps; ++r)
        shard::detail::launch(impl, on, [&](auto& dev) {
          shard::detail::primitive::for_each_index(
              dev, words, copy_words_fn{reinterpret_cast<const std::uint64_t*>(st.buf.src(a)), reinterpret_cast<std::uint64_t*>(st.buf.dst(b))});
        });
    });
    samples.push_back(static_cast<double>(words * 8 * reps) * (a == b ? 2 : 1) / (ms * 1e-3) / 1e9);
  }
  return {figure::of(samples), st.v.count_wrong(key, b, st.buf.dst(b), words * 8, seed)};
}

}  // namespace links_detail

/// Bytes per copy and copies per timed loop of the link tests: --bytes and --reps, or the
/// defaults (256 MiB x 10 on GPUs, 16 MiB x 5 emulated, 1 MiB x 2 with --quick).
inline std::pair<std::size_t, std::size_t> link_sizes(const target& tgt, const options& o) {
  const std::size_t bytes =
      o.p2p_bytes ? o.p2p_bytes : (o.quick ? std::size_t{1} << 20 : tgt.emulated ? std::size_t{16} << 20 : std::size_t{256} << 20);
  const std::size_t reps = o.p2p_reps ? o.p2p_reps : (o.quick ? 2 : tgt.emulated ? 5 : 10);
  return {bytes, reps};
}

/// The p2p family's settings and host costs (the model reads sync_us and launch_us).
struct p2p_run {
  std::vector<link_test> tests;
  double sync_us = NAN, launch_us = NAN;
};

inline p2p_run run_p2p(const target& tgt, const options& o) {
  using namespace links_detail;
  const auto& ctx = tgt.ctx;
  auto& impl = ctx.impl();
  const std::size_t g = ctx.size();
  const auto sizes = link_sizes(tgt, o);
  const std::size_t bytes = sizes.first, reps = sizes.second;
  const std::size_t lat_bytes = o.latency_bytes;
  const std::size_t lat_reps = o.latency_reps ? o.latency_reps : (o.quick ? 10 : 100);
  const issuer by = o.direction == "read" ? issuer::destination : issuer::source;
  const std::string dir = o.direction == "read" ? "reads (the destination pulls)" : "writes (the source pushes)";

  auto run = selected_tests(o, "p2p");
  run.erase(std::remove_if(run.begin(), run.end(), [](const test_info& t) { return t.key.find("_ranks") != std::string::npos; }),
            run.end());  // shard-bench-mpi's (run_p2p_ranks)
  p2p_run out;
  if (run.empty()) return out;
  const bool wide = selected(o, "all_to_one_ce") || selected(o, "one_to_all_ce");

  buffers buf;
  buf.cap = (std::max(bytes, lat_bytes) + 255) / 256 * 256;  // regions aligned for the SM copy's 8-byte words
  for (std::size_t s = 0; s < g; ++s) buf.owned.emplace_back(impl, s, (wide ? 2 + g : 2) * buf.cap);
  gate gt(impl);
  verifier v(impl, o.verify);
  p2p_setup st{impl, gt, v, buf, std::max<std::size_t>(o.samples, 1), by, o.quiet};
  // Every shard's pinned staging chunks exist before any timed loop: allocating pinned
  // memory while a blocking kernel spins could wait for it.
  for (std::size_t s = 0; s < g; ++s) (void)impl.staging(s);
  // Warm-up, ungated: every pair once in both issuing directions (peer mappings, first-use
  // costs), and every kernel the gated loops launch (lazy module loading must not happen
  // while a blocking kernel spins).
  shard::detail::run_and_wait(impl, [&] {
    for (std::size_t a = 0; a < g; ++a)
      for (std::size_t b = 0; b < g; ++b)
        for (const issuer side : {issuer::destination, issuer::source})
          shard::transport::copy(impl, a, buf.src(a), b, buf.dst(b), std::min<std::size_t>(bytes, 4096), route::automatic,
                                 ordering::queues, side);
    for (std::size_t s = 0; s < g; ++s)
      shard::detail::launch(impl, s, [&](auto& dev) {
        shard::detail::primitive::for_each_index(
            dev, 1, copy_words_fn{reinterpret_cast<const std::uint64_t*>(buf.src(s)), reinterpret_cast<std::uint64_t*>(buf.dst(s))});
        shard::detail::primitive::for_each_index(dev, 1, shard::detail::fill_fn<char>{buf.dst(s), char(1)});
      });
  });

  std::size_t steps = 0;
  for (auto& t : run) steps += (t.key == "all_to_one_ce" || t.key == "one_to_all_ce") ? g : g * g;
  progress bar("p2p", steps, o.quiet);
  const auto labels = shard_labels(g);
  for (const auto& info : run) {
    const std::string& key = info.key;
    link_test t;
    t.key = key;
    t.description = info.description;
    const bool staged = key.find("staged") != std::string::npos;
    const route how = staged ? route::staged : route::automatic;
    const std::string mode = staged ? "peer access off (staged through pinned host memory)" : "peer access on, " + dir;
    if (key == "all_to_one_ce" || key == "one_to_all_ce") {
      const bool to_one = key == "all_to_one_ce";
      t.bytes = bytes, t.reps = reps;
      panel p("gbps",
              to_one ? "All to one: total GB/s into each shard, every other shard writing at once (copy engines)"
                     : "One to all: total GB/s out of each shard, every other shard reading at once (copy engines)",
              "GB/s", {"total"}, labels);
      p.square = false;
      p.headline = true;
      for (std::size_t root = 0; root < g; ++root) {
        std::vector<std::size_t> others;
        for (std::size_t s = 0; s < g; ++s)
          if (s != root) others.push_back(s);
        // Every other shard's copy must be a peer copy on its own queue (staged copies would
        // also queue work on the root, outside the timed spans): otherwise no figure.
        const bool peers = std::all_of(others.begin(), others.end(), [&](std::size_t s) { return impl.peer_access(s, root); });
        if (others.empty() || !peers) {
          bar.step();
          continue;
        }
        // Slot k of the root (to_one) or of each reader (to_all) receives from the k-th peer.
        // The pattern depends on the source and destination; one to all reads one source
        // buffer, whose pattern names the root alone.
        auto seed_of = [&](std::size_t from, std::size_t to) { return pattern_seed(from, to_one ? to : from, bytes, 3); };
        shard::detail::run_and_wait(impl, [&] {
          for (std::size_t k = 0; k < others.size(); ++k) {
            const std::size_t from = to_one ? others[k] : root, to = to_one ? root : others[k];
            v.fill(from, buf.src(from), bytes, seed_of(from, to));
            v.fill(to, buf.slot(to, k), bytes, other_seed(seed_of(from, to)));
          }
        });
        std::vector<double> samples;
        for (std::size_t k = 0; k < st.samples; ++k) {
          const auto spans = gated_all_ms(impl, gt, others, [&](std::size_t s) {
            const std::size_t slot = static_cast<std::size_t>(std::find(others.begin(), others.end(), s) - others.begin());
            for (std::size_t r = 0; r < reps; ++r) {
              if (to_one)  // s writes into the root, on its own queue
                shard::transport::copy(impl, s, buf.src(s), root, buf.slot(root, slot), bytes, how, ordering::caller, issuer::source);
              else  // s reads from the root, on its own queue
                shard::transport::copy(impl, root, buf.src(root), s, buf.slot(s, slot), bytes, how, ordering::caller,
                                       issuer::destination);
            }
          });
          samples.push_back(static_cast<double>(bytes * reps * others.size()) / (longest_of(spans) * 1e-3) / 1e9);
        }
        p.cells[0][root] = figure::of(samples);
        long long wrong = -1;
        for (std::size_t k = 0; k < others.size(); ++k) {
          const std::size_t from = to_one ? others[k] : root, to = to_one ? root : others[k];
          wrong = add_wrong(wrong, v.count_wrong(key, to, buf.slot(to, k), bytes, seed_of(from, to)));
        }
        p.wrong[0][root] = wrong;
        bar.step();
      }
      t.panels.push_back(std::move(p));
    } else if (key == "p2p_latency" || key == "p2p_latency_staged") {
      t.bytes = lat_bytes, t.reps = lat_reps;
      panel dev_p("latency_us", "Latency, us per copy of " + std::to_string(lat_bytes) + " B, behind a blocking kernel, " + mode,
                  "us", labels, labels);
      panel host_p("host_latency_us",
                   "Latency, us per copy, host wall time (enqueue and the final wait included), " + mode, "us", labels, labels);
      dev_p.higher_is_better = host_p.higher_is_better = false;
      for (std::size_t a = 0; a < g; ++a)
        for (std::size_t b = 0; b < g; ++b) {
          const auto c = ce_pair(st, key, a, b, lat_bytes, lat_reps, how, false, true);
          dev_p.cells[a][b] = c.f;
          dev_p.wrong[a][b] = c.wrong;
          host_p.cells[a][b] = host_latency(st, a, b, lat_bytes, lat_reps, how);
          host_p.wrong[a][b] = c.wrong;
          bar.step();
        }
      t.panels.push_back(std::move(dev_p));
      t.panels.push_back(std::move(host_p));
    } else {
      const bool bidir = key.find("bidir") != std::string::npos;
      const bool sm = key == "p2p_bw_sm";
      t.bytes = sm ? bytes / 8 * 8 : bytes, t.reps = reps;
      panel p("gbps",
              std::string(bidir ? "Bidirectional" : "Unidirectional") + " bandwidth, GB/s, " + (sm ? "SM copy kernel, " : "copy engines, ") +
                  mode + (bidir ? "; diagonal: two copies within the shard, bytes counted x4" : "; diagonal: bytes counted x2"),
              "GB/s", labels, labels);
      p.headline = true;
      for (std::size_t a = 0; a < g; ++a)
        for (std::size_t b = 0; b < g; ++b) {
          const auto c = sm ? sm_pair(st, key, a, b, bytes, reps) : ce_pair(st, key, a, b, bytes, reps, how, bidir, false);
          p.cells[a][b] = c.f;
          p.wrong[a][b] = c.wrong;
          bar.step();
        }
      t.panels.push_back(std::move(p));
    }
    t.settings["direction"] = staged                      ? "staged"
                              : key == "all_to_one_ce" ? "write"
                              : key == "one_to_all_ce" ? "read"
                                                       : o.direction;
    out.tests.push_back(std::move(t));
  }

  // Host costs of the cost model: one host wait on every shard, one launch on a shard.
  if (selected(o, "p2p_latency")) {
    std::vector<double> syncs;
    for (std::size_t i = 0; i < lat_reps; ++i)
      syncs.push_back(seconds([&] {
        shard::detail::on_all_shards(impl, [&](std::size_t s) {
          shard::transport::copy(impl, s, buf.src(s), s, buf.dst(s), lat_bytes);
        });
      }));
    out.sync_us = figure::of(syncs).value * 1e6;
    // A launch as an algorithm pays it: back to back, not behind a gate (host enqueue included).
    const double ms = gated_ms(
        impl, gt, 0, {0},
        [&] {
          for (std::size_t i = 0; i < lat_reps; ++i)
            shard::detail::launch(impl, 0, [&](auto& dev) {
              shard::detail::primitive::for_each_index(dev, 1, shard::detail::fill_fn<char>{buf.dst(0), char(1)});
            });
        },
        false);
    out.launch_us = ms * 1e3 / static_cast<double>(lat_reps);
  }
  return out;
}

/// The host family: host <-> device for each shard alone and all at once.
inline std::vector<link_test> run_host_links(const target& tgt, const options& o) {
  using namespace links_detail;
  const auto& ctx = tgt.ctx;
  auto& impl = ctx.impl();
  const std::size_t g = ctx.size();
  const auto sizes = link_sizes(tgt, o);
  const std::size_t bytes = sizes.first, reps = sizes.second;
  const std::size_t samples_n = std::max<std::size_t>(o.samples, 1);
  const auto run = selected_tests(o, "host");
  std::vector<link_test> out;
  if (run.empty()) return out;

  // Pinned host memory and device memory per shard (the host buffer is a multiple of 8 bytes).
  const std::size_t cap = (bytes + 7) / 8 * 8;
  std::vector<shard::detail::device_buffer<char>> dev_buf;
  std::vector<char*> host_buf(g, nullptr);
  struct host_release {
    shard::detail::context_impl& impl;
    std::vector<char*>& p;
    std::size_t bytes;
    ~host_release() {
      for (std::size_t s = 0; s < p.size(); ++s)
        if (p[s]) impl.dev(s).deallocate_host(p[s], bytes);
    }
  } release{impl, host_buf, cap};
  for (std::size_t s = 0; s < g; ++s) {
    dev_buf.emplace_back(impl, s, cap);
    host_buf[s] = static_cast<char*>(impl.dev(s).allocate_host(cap));
  }
  gate gt(impl);
  verifier v(impl, o.verify);
  // Warm-up, ungated: each direction once and the SM copy kernel on every shard.
  shard::detail::run_and_wait(impl, [&] {
    for (std::size_t s = 0; s < g; ++s) {
      shard::transport::from_host(impl, s, dev_buf[s].data(), host_buf[s], 8);
      shard::transport::to_host(impl, s, host_buf[s], dev_buf[s].data(), 8);
      shard::detail::launch(impl, s, [&](auto& dev) {
        shard::detail::primitive::for_each_index(
            dev, 1, copy_words_fn{reinterpret_cast<const std::uint64_t*>(host_buf[s]), reinterpret_cast<std::uint64_t*>(dev_buf[s].data())});
      });
    }
  });
  std::vector<std::size_t> all;
  for (std::size_t s = 0; s < g; ++s) all.push_back(s);

  progress bar("host", run.size() * g, o.quiet);
  for (const auto& info : run) {
    const std::string& key = info.key;
    const bool h2d = key.rfind("h2d", 0) == 0;
    const bool sm = key.find("_sm") != std::string::npos;
    const bool at_once = key.find("_all_") != std::string::npos;
    const std::size_t n = sm ? bytes / 8 * 8 : bytes;
    link_test t;
    t.key = key;
    t.description = info.description;
    t.bytes = n, t.reps = reps;
    auto cols = shard_labels(g);
    if (at_once) cols.push_back("total");
    panel p("gbps",
            std::string(h2d ? "Host to device" : "Device to host") + ", GB/s, " + (sm ? "SM copy kernel" : "copy engine") + ", " +
                (at_once ? "every shard at once (total: all bytes over the longest span)" : "each shard alone"),
            "GB/s", {h2d ? "host->" : "->host"}, cols);
    p.square = false;
    p.headline = true;
    auto seed_of = [&](std::size_t s) { return pattern_seed(h2d ? g : s, h2d ? s : g, n, sm ? 11 : 5); };
    auto prepare = [&](std::size_t s) {
      if (h2d) {
        verifier::fill_host(host_buf[s], n, seed_of(s));
        v.fill(s, dev_buf[s].data(), n, other_seed(seed_of(s)));
      } else {
        v.fill(s, dev_buf[s].data(), n, seed_of(s));
        verifier::fill_host(host_buf[s], n, other_seed(seed_of(s)));
      }
    };
    auto body = [&](std::size_t s) {
      for (std::size_t r = 0; r < reps; ++r) {
        if (sm) {
          const auto* from = reinterpret_cast<const std::uint64_t*>(h2d ? host_buf[s] : dev_buf[s].data());
          auto* to = reinterpret_cast<std::uint64_t*>(h2d ? dev_buf[s].data() : host_buf[s]);
          shard::detail::launch(impl, s, [&](auto& dev) { shard::detail::primitive::for_each_index(dev, n / 8, copy_words_fn{from, to}); });
        } else if (h2d) {
          shard::transport::from_host(impl, s, dev_buf[s].data(), host_buf[s], n);
        } else {
          shard::transport::to_host(impl, s, host_buf[s], dev_buf[s].data(), n);
        }
      }
    };
    auto check = [&](std::size_t s) {
      return h2d ? v.count_wrong(key, s, dev_buf[s].data(), n, seed_of(s)) : v.count_wrong_host(key, host_buf[s], n, seed_of(s));
    };
    if (at_once) {
      shard::detail::run_and_wait(impl, [&] {
        for (std::size_t s : all) prepare(s);
      });
      std::vector<std::vector<double>> per(g);
      std::vector<double> total;
      for (std::size_t k = 0; k < samples_n; ++k) {
        const auto spans = gated_all_ms(impl, gt, all, body);
        for (std::size_t s = 0; s < g; ++s) per[s].push_back(static_cast<double>(n * reps) / (spans[s] * 1e-3) / 1e9);
        total.push_back(static_cast<double>(n * reps * g) / (longest_of(spans) * 1e-3) / 1e9);
      }
      for (std::size_t s = 0; s < g; ++s) {
        p.cells[0][s] = figure::of(per[s]);
        p.wrong[0][s] = check(s);
        bar.step();
      }
      p.cells[0][g] = figure::of(total);  // its bytes are verified in the shards' cells
    } else {
      for (std::size_t s = 0; s < g; ++s) {
        shard::detail::run_and_wait(impl, [&] { prepare(s); });
        std::vector<double> samples;
        for (std::size_t k = 0; k < samples_n; ++k) {
          const double ms = gated_ms(impl, gt, s, {s}, [&] { body(s); });
          samples.push_back(static_cast<double>(n * reps) / (ms * 1e-3) / 1e9);
        }
        p.cells[0][s] = figure::of(samples);
        p.wrong[0][s] = check(s);
        bar.step();
      }
    }
    t.panels.push_back(std::move(p));
    out.push_back(std::move(t));
  }
  return out;
}

inline void print_panel(std::ostream& os, const panel& p, bool verified) {
  long long wrong = -1;
  for (auto& row : p.wrong)
    for (long long w : row) wrong = add_wrong(wrong, w);
  os << p.title << "  [#wrong: " << (verified ? std::to_string(std::max(wrong, 0LL)) : "not verified") << "]\n";
  std::vector<std::string> header{p.square ? "from\\to" : ""};
  for (auto& c : p.cols) header.push_back(c);
  table t(header);
  for (std::size_t r = 0; r < p.rows.size(); ++r) {
    std::vector<std::string> row{p.rows[r]};
    for (std::size_t c = 0; c < p.cols.size(); ++c)
      row.push_back(fixed(p.cells[r][c].value, 2) + (p.wrong[r][c] > 0 ? " (" + std::to_string(p.wrong[r][c]) + " wrong)" : ""));
    t.row(row);
  }
  t.print(os);
  os << '\n';
}

inline void print_link_tests(std::ostream& os, const std::string& heading, const std::vector<link_test>& tests, bool verified) {
  if (tests.empty()) return;
  os << heading << "\n\n";
  for (auto& t : tests) {
    os << "-- " << t.key << ": " << human_bytes(static_cast<double>(t.bytes)) << " x " << t.reps << "\n";
    for (auto& p : t.panels) print_panel(os, p, verified);
  }
}

inline json link_test_json(const link_test& t) {
  json v;
  v["description"] = t.description;
  v["bytes"] = t.bytes;
  v["reps"] = t.reps;
  for (auto it = t.settings.begin(); it != t.settings.end(); ++it) v[it.key()] = it.value();
  json& panels = v["panels"] = json::object();
  for (auto& p : t.panels) {
    json& e = panels[p.name];
    e["title"] = p.title;
    e["unit"] = p.unit;
    e["rows"] = p.rows;
    e["cols"] = p.cols;
    std::vector<std::vector<double>> value, lo, hi, sd;
    for (auto& row : p.cells) {
      value.emplace_back(), lo.emplace_back(), hi.emplace_back(), sd.emplace_back();
      for (auto& f : row) value.back().push_back(f.value), lo.back().push_back(f.min), hi.back().push_back(f.max), sd.back().push_back(f.stdev);
    }
    e["matrix"] = matrix_json(value);
    e["min"] = matrix_json(lo);
    e["max"] = matrix_json(hi);
    e["stdev"] = matrix_json(sd);
    e["wrong"] = p.wrong;
  }
  return v;
}

inline void link_records(const link_test& t, std::vector<record>& out) {
  for (auto& p : t.panels)
    for (std::size_t r = 0; r < p.rows.size(); ++r)
      for (std::size_t c = 0; c < p.cols.size(); ++c) {
        record rec;
        rec.test = t.key;
        rec.label = p.label(r, c);
        rec.metric = p.name;
        rec.unit = p.unit;
        rec.bytes = static_cast<double>(t.bytes);
        rec.f = p.cells[r][c];
        rec.wrong = p.wrong[r][c];
        rec.higher_is_better = p.higher_is_better;
        // The summary averages links between distinct endpoints (and per-shard host links).
        rec.headline = p.headline && (!p.square || r != c) && p.cols[c] != "total";
        out.push_back(rec);
      }
}

inline void link_svgs(const std::string& dir, const link_test& t, const std::string& where) {
  for (std::size_t i = 0; i < t.panels.size(); ++i) {
    const auto& p = t.panels[i];
    std::vector<std::vector<double>> m;
    for (auto& row : p.cells) {
      m.emplace_back();
      for (auto& f : row) m.back().push_back(f.value);
    }
    const std::string file = dir + "/" + t.key + (i == 0 ? "" : "_" + p.name) + ".svg";
    svg::save(file, svg::heatmap(t.key + ": " + p.title + where, p.unit, m, p.rows, p.cols));
  }
}

/// The p2p tests that also run across processes (shard-bench-mpi, an SPMD context: the
/// shards of every rank; in one process, its shards): every pair's bandwidth and latency
/// through shard's own transport, as its algorithms move data
/// (a pair within a rank: peer or staged copies; across ranks: the communicator, MPI or
/// NCCL, its agreement on the exchange included). Each cell: `reps` copies a -> b in one
/// exchange, every rank taking part, timed by the host clock from a barrier to the end of
/// the wait, the slowest rank's time; then the destination is verified on its rank.
inline std::vector<link_test> run_p2p_ranks(const target& tgt, const options& o) {
  using shard::transport::byte_transfer;
  auto& impl = tgt.ctx.impl();
  const std::size_t g = impl.size();
  std::vector<link_test> out;
  const bool bw = selected(o, "p2p_bw_ranks"), lat = selected(o, "p2p_latency_ranks");
  if (!bw && !lat) return out;
  const auto sizes = link_sizes(tgt, o);
  const std::size_t bytes = sizes.first, reps = sizes.second;
  const std::size_t lat_bytes = o.latency_bytes, lat_reps = o.latency_reps ? o.latency_reps : (o.quick ? 10 : 100);
  const std::size_t cap = std::max(bytes, lat_bytes);
  std::vector<shard::detail::device_buffer<char>> owned(g);
  for (auto s : impl.local_shards()) owned[s] = shard::detail::device_buffer<char>(impl, s, 2 * cap);
  auto src = [&](std::size_t s) -> char* { return impl.local(s) ? owned[s].data() : nullptr; };
  auto dst = [&](std::size_t s) -> char* { return impl.local(s) ? owned[s].data() + cap : nullptr; };
  verifier v(impl, o.verify);
  const auto labels = shard_labels(g);
  auto measure = [&](const std::string& key, std::size_t size, std::size_t count, bool latency) {
    link_test t;
    t.key = key;
    t.bytes = size, t.reps = count;
    t.settings = json{{"bytes", size}, {"reps", count}, {"ranks", impl.ranks()}};
    t.panels.emplace_back(latency ? "latency_us" : "gbps",
                          latency ? "latency per copy, us (host clock, the slowest rank; rows: from, columns: to)"
                                  : "bandwidth, GB/s (host clock, the slowest rank; rows: from, columns: to)",
                          latency ? "us" : "GB/s", labels, labels);
    auto& p = t.panels.back();
    p.higher_is_better = !latency;
    p.headline = !latency;
    progress bar(key, g * (g - 1), o.quiet || impl.rank() != 0);
    for (std::size_t a = 0; a < g; ++a)
      for (std::size_t b = 0; b < g; ++b) {
        if (a == b) continue;
        bar.step();
        const std::uint64_t seed = pattern_seed(a, b, size, 11);
        shard::detail::run_and_wait(impl, [&] {
          v.fill(a, src(a), size, seed);
          v.fill(b, dst(b), size, other_seed(seed));
        });
        const std::vector<byte_transfer> copies(count, byte_transfer{a, src(a), b, dst(b), size});
        std::vector<double> samples;
        for (std::size_t k = 0; k < std::max<std::size_t>(o.samples, 1); ++k) {
          barrier(impl);
          const double sec = max_over_ranks(impl, seconds([&] {
            shard::detail::run_and_wait(impl, [&] {
              shard::transport::detail_copy::exchange_resolved(impl, copies, shard::transport::route::automatic);
            });
          }));
          samples.push_back(latency ? sec * 1e6 / static_cast<double>(count)
                                    : static_cast<double>(size * count) / sec / 1e9);
        }
        p.cells[a][b] = figure::of(samples);
        p.wrong[a][b] = sum_over_ranks(impl, v.count_wrong(key, b, dst(b), size, seed));
      }
    out.push_back(std::move(t));
  };
  if (bw) measure("p2p_bw_ranks", bytes, reps, false);
  if (lat) measure("p2p_latency_ranks", lat_bytes, lat_reps, true);
  return out;
}

inline const family_registration p2p_family{family{
    "p2p",
    1,
    {{"p2p_bw_ce", "p2p", "unidirectional bandwidth, every pair, copy engines (--direction write|read), peer access on"},
     {"p2p_bidir_ce", "p2p", "bidirectional bandwidth, every pair, both directions at once, copy engines"},
     {"p2p_bw_sm", "p2p", "unidirectional bandwidth, every pair, SM copy kernel across peer pointers"},
     {"p2p_latency", "p2p", "latency of small copies behind a blocking kernel (and with host enqueue included)"},
     {"p2p_bw_staged", "p2p", "unidirectional bandwidth with peer access off (staged through pinned host memory)"},
     {"p2p_bidir_staged", "p2p", "bidirectional bandwidth with peer access off"},
     {"p2p_latency_staged", "p2p", "latency with peer access off"},
     {"all_to_one_ce", "p2p", "every other shard writes to one shard at once, for each shard"},
     {"one_to_all_ce", "p2p", "every other shard reads from one shard at once, for each shard"},
     {"p2p_bw_ranks", "p2p", "bandwidth, every pair (of every rank, under shard-bench-mpi), through shard's transport, host clock"},
     {"p2p_latency_ranks", "p2p", "latency of small copies, every pair (of every rank), through shard's transport, host clock"}},
    [](const target& tgt, const options& o, run_output& out) {
      if (tgt.spmd) {
        // Across processes a copy has no one device queue to time it on: the host clock.
        bool other = false;
        for (const auto& t : selected_tests(o, "p2p")) other = other || t.key.find("_ranks") == std::string::npos;
        if (other && !o.tests.empty())
          out.os << "== p2p: the tests timed on one process's device queues are skipped across processes; "
                    "p2p_bw_ranks and p2p_latency_ranks run\n\n";
        const auto tests = run_p2p_ranks(tgt, o);
        print_link_tests(out.os, "== p2p across " + std::to_string(tgt.ctx.ranks()) +
                                     " processes (shard's transport; host clock, the slowest rank)", tests, o.verify);
        for (const auto& t : tests) {
          out.tests[t.key] = link_test_json(t);
          link_records(t, out.records);
          if (!out.svg_dir.empty()) link_svgs(out.svg_dir, t, out.where);
        }
        return;
      }
      const p2p_run p2p = run_p2p(tgt, o);
      print_link_tests(out.os, "== p2p (" + std::string(o.direction == "read" ? "reads" : "writes") +
                                   "; every loop queued behind a blocking kernel, then released)",
                       p2p.tests, o.verify);
      if (std::isfinite(p2p.sync_us))
        out.os << "host wait on all shards: " << fixed(p2p.sync_us, 1) << " us; back-to-back launch on one shard: "
               << fixed(p2p.launch_us, 2) << " us\n\n";
      for (const auto& t : p2p.tests) {
        out.tests[t.key] = link_test_json(t);
        if (t.key == "p2p_latency") out.tests[t.key]["sync_us"] = p2p.sync_us, out.tests[t.key]["launch_us"] = p2p.launch_us;
        link_records(t, out.records);
        if (!out.svg_dir.empty()) link_svgs(out.svg_dir, t, out.where);
      }
      // The same pairs through shard's own transport, as shard-bench-mpi measures them.
      const auto through = run_p2p_ranks(tgt, o);
      print_link_tests(out.os, "== p2p through shard's transport (host clock)", through, o.verify);
      for (const auto& t : through) {
        out.tests[t.key] = link_test_json(t);
        link_records(t, out.records);
        if (!out.svg_dir.empty()) link_svgs(out.svg_dir, t, out.where);
      }
    }}};

inline const family_registration host_links_family{family{
    "host",
    2,
    {{"h2d_ce", "host", "host to device, each shard alone, copy engine"},
     {"d2h_ce", "host", "device to host, each shard alone, copy engine"},
     {"h2d_all_ce", "host", "host to device, every shard at once, copy engine"},
     {"d2h_all_ce", "host", "device to host, every shard at once, copy engine"},
     {"h2d_sm", "host", "host to device, each shard alone, SM copy kernel reading pinned host memory"},
     {"d2h_sm", "host", "device to host, each shard alone, SM copy kernel writing pinned host memory"}},
    [](const target& tgt, const options& o, run_output& out) {
      if (tgt.spmd) {
        if (!selected_tests(o, "host").empty())
          out.os << "== host links: skipped across processes (each machine's own: run shard-bench host there)\n\n";
        return;
      }
      const auto host_links = run_host_links(tgt, o);
      print_link_tests(out.os, "== host links (every loop queued behind a blocking kernel, then released)", host_links,
                       o.verify);
      for (const auto& t : host_links) {
        out.tests[t.key] = link_test_json(t);
        link_records(t, out.records);
        if (!out.svg_dir.empty()) link_svgs(out.svg_dir, t, out.where);
      }
    }}};

}  // namespace bench
