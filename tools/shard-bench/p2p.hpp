#pragma once
// shard-bench p2p: unidirectional and bidirectional bandwidth and latency between every
// pair of shards, through the transport, with peer access (the automatic route) and with
// every copy staged through pinned host memory ("peer access off"). The method is that of
// CUDA's p2pBandwidthLatencyTest: back-to-back copies on the destination's queue between
// two timed events; bidirectional = both directions at once; latency = small copies.
#include "common.hpp"
#include "svg.hpp"

#include <shard/detail/buffer.hpp>
#include <shard/detail/functors.hpp>
#include <shard/detail/primitives/for_each.hpp>
#include <shard/detail/skeleton/run.hpp>
#include <shard/transport/copy.hpp>

namespace bench {

struct p2p_matrices {
  std::vector<std::vector<double>> uni_gbps, bi_gbps, latency_us;
};

struct p2p_result {
  std::size_t bytes = 0, reps = 0, latency_bytes = 0, latency_reps = 0;
  p2p_matrices peer, staged;  // automatic route; forced staged route
  /// Host-side costs the cost model needs: one wait of the host on every shard (queueing a
  /// tiny copy on each, then waiting), and one primitive launch on a shard (back to back,
  /// timed on the queue, as a kernel launch rate).
  double sync_us = 0, launch_us = 0;
};

namespace p2p_detail {

/// Milliseconds of `reps` copies a -> b (and b -> a when bidirectional), timed on b's queue.
inline double time_copies(shard::detail::context_impl& impl, std::size_t a, std::size_t b,
                          const std::vector<char*>& buffers, std::size_t bytes, std::size_t reps,
                          shard::transport::route how, bool bidirectional) {
  using shard::transport::ordering;
  auto& da = impl.dev(a);
  auto& db = impl.dev(b);
  // Each shard's buffer: [source half | destination half].
  char* src_a = buffers[a];
  char* dst_a = buffers[a] + bytes;
  char* src_b = buffers[b];
  char* dst_b = buffers[b] + bytes;
  std::shared_ptr<shard::detail::event> start, stop;
  shard::detail::run_and_wait(impl, [&] {
    // Warm-up, fully ordered: afterwards each queue has waited for the other.
    shard::transport::copy(impl, a, src_a, b, dst_b, bytes, how);
    if (bidirectional) shard::transport::copy(impl, b, src_b, a, dst_a, bytes, how);
    start = db.record_timed();
    da.wait(start);
    for (std::size_t r = 0; r < reps; ++r) {
      shard::transport::copy(impl, a, src_a, b, dst_b, bytes, how, ordering::caller);
      if (bidirectional) shard::transport::copy(impl, b, src_b, a, dst_a, bytes, how, ordering::caller);
    }
    if (a != b) db.wait(da.record());
    stop = db.record_timed();
  });
  return db.elapsed_ms(*start, *stop);
}

inline p2p_matrices measure(const shard::context& ctx, const std::vector<char*>& buffers, const p2p_result& shape,
                            shard::transport::route how, progress& bar) {
  const std::size_t g = ctx.size();
  auto& impl = ctx.impl();
  p2p_matrices m;
  m.uni_gbps.assign(g, std::vector<double>(g, 0));
  m.bi_gbps = m.latency_us = m.uni_gbps;
  for (std::size_t a = 0; a < g; ++a)
    for (std::size_t b = 0; b < g; ++b) {
      const double uni = time_copies(impl, a, b, buffers, shape.bytes, shape.reps, how, false);
      m.uni_gbps[a][b] = static_cast<double>(shape.bytes * shape.reps) / (uni * 1e-3) / 1e9;
      const double bi = time_copies(impl, a, b, buffers, shape.bytes, shape.reps, how, a != b);
      m.bi_gbps[a][b] = static_cast<double>(shape.bytes * shape.reps * (a != b ? 2 : 1)) / (bi * 1e-3) / 1e9;
      const double lat = time_copies(impl, a, b, buffers, shape.latency_bytes, shape.latency_reps, how, false);
      m.latency_us[a][b] = lat * 1e3 / static_cast<double>(shape.latency_reps);
      bar.step();
    }
  return m;
}

inline void print_matrix(std::ostream& os, const std::string& title, const std::vector<std::vector<double>>& m,
                         int digits) {
  os << title << '\n';
  std::vector<std::string> header{"from\\to"};
  for (std::size_t b = 0; b < m.size(); ++b) header.push_back(std::to_string(b));
  table t(header);
  for (std::size_t a = 0; a < m.size(); ++a) {
    std::vector<std::string> row{std::to_string(a)};
    for (double v : m[a]) row.push_back(fixed(v, digits));
    t.row(row);
  }
  t.print(os);
  os << '\n';
}

}  // namespace p2p_detail

inline p2p_result run_p2p(const target& tgt, const options& o) {
  const auto& ctx = tgt.ctx;
  p2p_result r;
  r.bytes = o.p2p_bytes ? o.p2p_bytes : (o.quick ? std::size_t{1} << 20 : tgt.emulated ? std::size_t{16} << 20 : std::size_t{256} << 20);
  r.reps = o.p2p_reps ? o.p2p_reps : (o.quick ? 2 : tgt.emulated ? 5 : 10);
  r.latency_bytes = o.latency_bytes;
  r.latency_reps = o.latency_reps ? o.latency_reps : (o.quick ? 10 : 100);
  if (r.bytes == 0 || r.latency_bytes == 0) throw usage_error("p2p: --bytes and --latency-bytes must be at least 1");
  auto& impl = ctx.impl();
  std::vector<shard::detail::device_buffer<char>> owned;
  std::vector<char*> buffers;
  const std::size_t each = 2 * std::max(r.bytes, r.latency_bytes);
  for (std::size_t s = 0; s < ctx.size(); ++s) {
    owned.emplace_back(impl, s, each);
    buffers.push_back(owned.back().data());
  }
  shard::detail::run_and_wait(impl, [&] {
    for (std::size_t s = 0; s < ctx.size(); ++s) shard::transport::copy(impl, s, buffers[s], s, buffers[s] + r.bytes, r.bytes);
  });
  progress bar("p2p", 2 * ctx.size() * ctx.size());
  r.peer = p2p_detail::measure(ctx, buffers, r, shard::transport::route::automatic, bar);
  r.staged = p2p_detail::measure(ctx, buffers, r, shard::transport::route::staged, bar);
  std::vector<double> syncs;
  for (std::size_t i = 0; i < r.latency_reps; ++i)
    syncs.push_back(seconds([&] {
      shard::detail::on_all_shards(impl, [&](std::size_t s) {
        shard::transport::copy(impl, s, buffers[s], s, buffers[s] + r.bytes, r.latency_bytes);
      });
    }));
  r.sync_us = median(syncs) * 1e6;
  std::shared_ptr<shard::detail::event> start, stop;
  shard::detail::run_and_wait(impl, [&] {
    start = impl.dev(0).record_timed();
    for (std::size_t i = 0; i < r.latency_reps; ++i)
      shard::detail::launch(impl, 0, [&](auto& dev) {
        shard::detail::primitive::for_each_index(dev, 1, shard::detail::fill_fn<char>{buffers[0], char(1)});
      });
    stop = impl.dev(0).record_timed();
  });
  r.launch_us = impl.dev(0).elapsed_ms(*start, *stop) * 1e3 / static_cast<double>(r.latency_reps);
  return r;
}

inline void print_p2p(std::ostream& os, const p2p_result& r) {
  os << "== p2p: " << human_bytes(static_cast<double>(r.bytes)) << " copies x " << r.reps << ", latency: "
     << r.latency_bytes << " B x " << r.latency_reps << " (diagonal: copies within one shard)\n"
     << "host wait on all shards: " << fixed(r.sync_us, 1) << " us; back-to-back launch on one shard: " << fixed(r.launch_us, 2)
     << " us\n\n";
  for (int staged = 0; staged < 2; ++staged) {
    const auto& m = staged ? r.staged : r.peer;
    const std::string mode = staged ? "peer access off (staged through pinned host memory)" : "peer access on (automatic route)";
    p2p_detail::print_matrix(os, "Unidirectional bandwidth, GB/s, " + mode, m.uni_gbps, 2);
    p2p_detail::print_matrix(os, "Bidirectional bandwidth, GB/s, " + mode, m.bi_gbps, 2);
    p2p_detail::print_matrix(os, "Latency, us, " + mode, m.latency_us, 2);
  }
}

inline json::value p2p_json(const p2p_result& r) {
  json::value v;
  v["bytes"] = r.bytes;
  v["reps"] = r.reps;
  v["latency_bytes"] = r.latency_bytes;
  v["latency_reps"] = r.latency_reps;
  v["sync_us"] = r.sync_us;
  v["launch_us"] = r.launch_us;
  for (int staged = 0; staged < 2; ++staged) {
    const auto& m = staged ? r.staged : r.peer;
    json::value& section = v[staged ? "staged" : "peer"];
    section["unidirectional_gbps"] = matrix_json(m.uni_gbps);
    section["bidirectional_gbps"] = matrix_json(m.bi_gbps);
    section["latency_us"] = matrix_json(m.latency_us);
  }
  return v;
}

inline void p2p_svg(const std::string& dir, const p2p_result& r, const std::string& where) {
  for (int staged = 0; staged < 2; ++staged) {
    const auto& m = staged ? r.staged : r.peer;
    const std::string mode = staged ? "staged" : "peer";
    const std::string label = staged ? " (peer access off)" : " (peer access on)";
    svg::save(dir + "/p2p_unidirectional_" + mode + ".svg",
              svg::heatmap("Unidirectional bandwidth" + label + where, "GB/s", m.uni_gbps));
    svg::save(dir + "/p2p_bidirectional_" + mode + ".svg",
              svg::heatmap("Bidirectional bandwidth" + label + where, "GB/s", m.bi_gbps));
    svg::save(dir + "/p2p_latency_" + mode + ".svg", svg::heatmap("Latency" + label + where, "microseconds", m.latency_us));
  }
}

}  // namespace bench
