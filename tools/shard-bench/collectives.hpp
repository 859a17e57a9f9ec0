#pragma once
// shard-bench collectives: all-reduce, all-gather, reduce-scatter, all-to-all and broadcast
// over a size sweep (-b, -e, -f), on shard's own transport (copies) always and on NCCL where
// it can run, as nccl-tests measures them:
// - `-n` iterations queued back to back and one wait at the end, timed by the host clock,
//   after `-w` warm-up iterations; the time is per iteration;
// - size is the per-rank buffer nccl-tests names (the whole output of all-gather, the whole
//   input of reduce-scatter and all-to-all), algbw = size / time, busbw = algbw x the
//   collective's factor (all-reduce 2(G-1)/G; all-gather, reduce-scatter, all-to-all
//   (G-1)/G; broadcast 1);
// - verification: the inputs are initialised afresh, the collective runs once more, and a
//   kernel on every shard counts the elements that differ from what the inputs imply
//   (#wrong, in elements, as nccl-tests counts them). The inputs of the timed iterations
//   are re-initialised per size (an in-place all-reduce compounds its inputs).
#include "common.hpp"
#include "svg.hpp"
#include "verify.hpp"

#include <shard/core/buffer.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/skeleton/collectives.hpp>
#include <shard/transport/collectives.hpp>

#include <map>

namespace bench {

struct collective_point {
  std::string collective, engine, datatype, op;
  std::size_t bytes = 0;  // nccl-tests' "size"
  std::size_t count = 0;  // elements (nccl-tests' "count")
  std::size_t root = 0;
  figure time_us;
  double algbw_gbps = 0, busbw_gbps = 0;
  long long wrong = -1;  // elements
};

inline const std::vector<std::string>& collective_names() {
  static const std::vector<std::string> names{"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast"};
  return names;
}

inline double bus_factor(const std::string& collective, std::size_t g) {
  const double n = static_cast<double>(g);
  if (collective == "all_reduce") return 2 * (n - 1) / n;
  if (collective == "broadcast") return 1;
  return (n - 1) / n;
}

inline const std::vector<std::string>& datatype_names() {
  static const std::vector<std::string> names{"int32", "uint32", "int64", "uint64", "float", "double"};
  return names;
}
inline const std::vector<std::string>& op_names() {
  static const std::vector<std::string> names{"sum", "prod", "min", "max"};
  return names;
}

namespace collectives_detail {

enum kind : int { all_reduce, all_gather, reduce_scatter, all_to_all, broadcast };

inline kind kind_of(const std::string& name) {
  return name == "all_reduce" ? all_reduce : name == "all_gather" ? all_gather : name == "reduce_scatter" ? reduce_scatter
                                                                                                         : name == "all_to_all" ? all_to_all : broadcast;
}

/// Element i of shard s's input: small values (1..3) for the reducing collectives, different
/// on every shard (so a block taken from the wrong shard, or a reduction skipped, shows), and
/// small enough that sums and products of up to 16 shards are exact in every integer type;
/// else hashed values below 65521 (exact in float), which differ between shards and
/// positions without a short period.
template <class T>
SHARD_HOST_DEVICE T input_value(bool reducing, std::size_t s, std::size_t i, std::size_t salt) {
  return reducing ? static_cast<T>(1 + (s + i * 7 + salt) % 3)
                  : static_cast<T>(mix64((static_cast<std::uint64_t>(s) << 40) ^ (i + salt)) % 65521);
}

template <class T>
struct fill_input_fn {
  T* p;
  bool reducing;
  std::size_t s, salt;
  SHARD_HOST_DEVICE void operator()(std::size_t i) const { p[i] = input_value<T>(reducing, s, i, salt); }
};

/// Counts the elements of shard d's output that differ from what the inputs imply.
template <class T, class Op>
struct check_fn {
  const T* p;
  int k;
  std::size_t d, g, block, root, salt;
  Op op;
  unsigned long long* wrong;
  SHARD_HOST_DEVICE T expected(std::size_t j) const {
    switch (k) {
      case all_reduce: {
        T acc = input_value<T>(true, 0, j, salt);
        for (std::size_t s = 1; s < g; ++s) acc = op(acc, input_value<T>(true, s, j, salt));
        return acc;
      }
      case reduce_scatter: {
        T acc = input_value<T>(true, 0, d * block + j, salt);
        for (std::size_t s = 1; s < g; ++s) acc = op(acc, input_value<T>(true, s, d * block + j, salt));
        return acc;
      }
      case all_gather: return input_value<T>(false, j / block, j % block, salt);
      case all_to_all: return input_value<T>(false, j / block, d * block + j % block, salt);
      default: return input_value<T>(false, root, j, salt);
    }
  }
  SHARD_HOST_DEVICE void operator()(std::size_t j) const {
    if (!(p[j] == expected(j))) count_one(wrong);
  }
};

template <class F>
void with_datatype(const std::string& name, F&& f) {
  if (name == "int32") f(std::int32_t{});
  else if (name == "uint32") f(std::uint32_t{});
  else if (name == "int64") f(std::int64_t{});
  else if (name == "uint64") f(std::uint64_t{});
  else if (name == "double") f(double{});
  else f(float{});
}

template <class F>
void with_op(const std::string& name, F&& f) {
  if (name == "prod") f(shard::multiplies<>{});
  else if (name == "min") f(shard::minimum<>{});
  else if (name == "max") f(shard::maximum<>{});
  else f(shard::plus<>{});
}

/// The buffers of one sweep: a (input; in place: also the output) and b (output), each
/// large enough for every collective at the largest size.
template <class T>
struct sweep_buffers {
  std::vector<shard::detail::device_buffer<T>> owned_a, owned_b;
  std::vector<T*> a, b;
  shard::detail::segmented_buffer<T> scratch;
};

/// Queues one call; on the copies engine reducing collectives reuse `scratch`.
template <class T, class Op>
void enqueue(shard::detail::context_impl& impl, kind k, std::size_t count, std::size_t root, shard::transport::engine how,
             Op op, sweep_buffers<T>& buf) {
  const std::size_t g = impl.size();
  const std::vector<const T*> ca(buf.a.begin(), buf.a.end());
  switch (k) {
    case all_reduce: shard::detail::enqueue_all_reduce(impl, buf.a, count, op, how, buf.scratch); break;
    case reduce_scatter: shard::detail::enqueue_reduce_scatter(impl, ca, buf.b, count / g, op, how, buf.scratch); break;
    case all_gather: shard::transport::all_gather(impl, ca, count / g, buf.b, how); break;
    case all_to_all: shard::transport::all_to_all(impl, ca, count / g, buf.b, how); break;
    case broadcast: shard::transport::broadcast(impl, root, buf.a, count, how); break;
  }
}

template <class T, class Op>
collective_point measure(shard::detail::context_impl& impl, verifier& v, const options& o, const std::string& name,
                         const std::string& engine_name, shard::transport::engine how, std::size_t used, std::size_t iters,
                         std::size_t warmup, Op op, sweep_buffers<T>& buf) {
  const std::size_t g = impl.size();
  const kind k = kind_of(name);
  const bool reducing = k == all_reduce || k == reduce_scatter;
  const std::size_t count = used / sizeof(T);
  const std::size_t in_count = (k == all_gather) ? count / g : count;
  const std::size_t salt = count;
  auto init = [&] {
    shard::detail::run_and_wait(impl, [&] {
      for (std::size_t s = 0; s < g; ++s)
        shard::detail::launch(impl, s, [&](auto& dev) {
          shard::detail::primitive::for_each_index(dev, in_count, fill_input_fn<T>{buf.a[s], reducing, s, salt});
        });
    });
  };
  init();
  for (std::size_t w = 0; w < warmup; ++w) shard::detail::run_and_wait(impl, [&] { enqueue(impl, k, count, o.root, how, op, buf); });
  std::vector<double> samples;
  for (std::size_t sample = 0; sample < std::max<std::size_t>(o.samples, 1); ++sample) {
    barrier(impl);  // across processes: every rank starts together, the slowest one's time counts
    samples.push_back(max_over_ranks(impl, seconds([&] {
                        shard::detail::run_and_wait(impl, [&] {
                          for (std::size_t r = 0; r < iters; ++r) enqueue(impl, k, count, o.root, how, op, buf);
                        });
                      })) *
                      1e6 / static_cast<double>(iters));
  }
  collective_point p;
  p.collective = name;
  p.engine = engine_name;
  p.datatype = o.datatype;
  p.op = reducing ? o.op : "";
  p.bytes = used;
  p.count = count;
  p.root = k == broadcast ? o.root : 0;
  p.time_us = figure::of(samples);
  p.algbw_gbps = static_cast<double>(used) / (p.time_us.value * 1e-6) / 1e9;
  p.busbw_gbps = p.algbw_gbps * bus_factor(name, g);
  if (v.enabled()) {
    init();
    shard::detail::run_and_wait(impl, [&] { enqueue(impl, k, count, o.root, how, op, buf); });
    const bool in_place = k == all_reduce || k == broadcast;
    const std::size_t out_count = k == reduce_scatter ? count / g : count;
    p.wrong = 0;
    for (std::size_t d = 0; d < g; ++d) {  // (another rank's shard counts 0 here)
      T* out = in_place ? buf.a[d] : buf.b[d];
      p.wrong += v.count_with(name, d, out, out_count, check_fn<T, Op>{out, k, d, g, count / g, o.root, salt, op, nullptr});
    }
    p.wrong = sum_over_ranks(impl, p.wrong);
  }
  return p;
}

}  // namespace collectives_detail

/// The collectives' sweep with the backend's defaults resolved.
inline sweep_settings collective_settings(const target& tgt, const options& o) {
  sweep_settings s;
  s.lo = o.min_bytes ? o.min_bytes : 1024;
  s.hi = o.max_bytes ? o.max_bytes : (o.quick ? std::size_t{64} << 10 : tgt.emulated ? std::size_t{16} << 20 : std::size_t{1} << 30);
  s.factor = o.step_factor ? o.step_factor : 4;
  s.iters = o.iters ? o.iters : (o.quick ? 2 : tgt.emulated ? 5 : 20);
  s.warmup = o.warmup_given ? o.warmup : (o.quick ? 1 : tgt.emulated ? 1 : 5);
  return s;
}

inline std::vector<collective_point> run_collectives(const target& tgt, const options& o) {
  using namespace collectives_detail;
  const auto& ctx = tgt.ctx;
  auto& impl = ctx.impl();
  const std::size_t g = ctx.size();
  std::vector<std::string> names;
  for (auto& n : collective_names())
    if (selected(o, n)) names.push_back(n);
  std::vector<collective_point> out;
  if (names.empty()) return out;
  const sweep_settings set = collective_settings(tgt, o);
  const std::size_t lo = set.lo, hi = set.hi, factor = set.factor, iters = set.iters, warmup = set.warmup;
  if (lo > hi) throw usage_error("collectives: -b/--minbytes is larger than -e/--maxbytes");
  if (o.root >= g) throw usage_error("-r/--root: " + std::to_string(o.root) + " is not a shard (there are " + std::to_string(g) + ")");
  const auto sizes = sweep(lo, hi, factor);
  verifier v(impl, o.verify);
  with_datatype(o.datatype, [&](auto type_tag) {
    using T = decltype(type_tag);
    std::vector<std::pair<std::string, shard::transport::engine>> engines{{"shard", shard::transport::engine::copies}};
    if (shard::transport::nccl_available(impl)) engines.push_back({"nccl", shard::transport::engine::nccl});
    sweep_buffers<T> buf;
    const std::size_t capacity = hi / sizeof(T) + g;
    buf.owned_a.resize(g), buf.owned_b.resize(g);
    buf.a.assign(g, nullptr), buf.b.assign(g, nullptr);  // another rank's shards: null here
    for (auto s : impl.local_shards()) {
      buf.owned_a[s] = shard::detail::device_buffer<T>(impl, s, capacity);
      buf.owned_b[s] = shard::detail::device_buffer<T>(impl, s, capacity);
      buf.a[s] = buf.owned_a[s].data();
      buf.b[s] = buf.owned_b[s].data();
    }
    progress bar("collectives", names.size() * engines.size() * sizes.size(), o.quiet);
    for (const auto& name : names)
      for (const auto& [engine_name, how] : engines)
        for (std::size_t bytes : sizes) {
          bar.step();
          const bool reducing = name == "all_reduce" || name == "reduce_scatter";
          // shard's NCCL engine reduces sums only (its own engine runs every operator).
          if (reducing && how == shard::transport::engine::nccl && o.op != "sum") continue;
          // Sizes below one element per shard mean nothing for the split collectives.
          if (bytes / sizeof(T) < g) continue;
          const std::size_t used = (name == "all_reduce" || name == "broadcast") ? bytes / sizeof(T) * sizeof(T)
                                                                                  : bytes / sizeof(T) / g * g * sizeof(T);
          if (reducing)
            with_op(o.op, [&](auto op) {
              out.push_back(measure<T>(impl, v, o, name, engine_name, how, used, iters, warmup, op, buf));
            });
          else
            out.push_back(measure<T>(impl, v, o, name, engine_name, how, used, iters, warmup, shard::plus<>{}, buf));
        }
  });
  return out;
}

inline void print_collectives(std::ostream& os, const std::vector<collective_point>& points, std::size_t g, const options& o) {
  if (points.empty()) return;
  os << "== collectives over " << g << " shards (" << o.datatype << ", op " << o.op
     << "; size, algbw and busbw as nccl-tests reports them; time per iteration of -n queued back to back, one wait; "
        "#wrong: elements verified wrong)\n\n";
  for (const auto& name : collective_names()) {
    std::vector<std::string> engines;
    for (auto& p : points)
      if (p.collective == name && std::find(engines.begin(), engines.end(), p.engine) == engines.end()) engines.push_back(p.engine);
    if (engines.empty()) continue;
    std::vector<std::string> header{"size", "count"};
    for (auto& e : engines) header.insert(header.end(), {e + " time us", e + " algbw GB/s", e + " busbw GB/s", e + " #wrong"});
    table t(header);
    std::map<std::size_t, std::vector<std::string>> rows;
    std::string dtype;
    for (auto& p : points) {
      if (p.collective != name) continue;
      auto& row = rows[p.bytes];
      if (row.empty()) row = {human_bytes(static_cast<double>(p.bytes)), std::to_string(p.count)};
      row.insert(row.end(), {fixed(p.time_us.value, 1), fixed(p.algbw_gbps, 2), fixed(p.busbw_gbps, 2),
                             p.wrong < 0 ? "N/A" : std::to_string(p.wrong)});
    }
    for (auto& [bytes, row] : rows) t.row(row);
    os << name << " (busbw factor " << fixed(bus_factor(name, g), 3) << (name == "broadcast" ? ", root " + std::to_string(o.root) : "")
       << ")\n";
    t.print(os);
    os << '\n';
  }
}

inline json collectives_json(const std::vector<collective_point>& points, const std::string& name, const sweep_settings& set) {
  json v = set.to_json("bytes");
  json& list = v["points"] = json::array();
  for (auto& p : points) {
    if (p.collective != name) continue;
    json e;
    e["engine"] = p.engine;
    e["datatype"] = p.datatype;
    e["op"] = p.op;
    e["root"] = p.root;
    e["bytes"] = p.bytes;
    e["count"] = p.count;
    e["time_us"] = json(p.time_us);
    e["algbw_gbps"] = p.algbw_gbps;
    e["busbw_gbps"] = p.busbw_gbps;
    e["wrong"] = p.wrong;
    list.push_back(e);
  }
  return v;
}

inline void collective_records(const std::vector<collective_point>& points, std::vector<record>& out) {
  for (auto& p : points) {
    const std::string label = human_bytes(static_cast<double>(p.bytes)) + " " + p.engine;
    record t{p.collective, label, "time_us", "us", static_cast<double>(p.bytes), p.time_us, p.wrong, false, false};
    figure alg, bus;
    alg.value = p.algbw_gbps, bus.value = p.busbw_gbps;
    alg.samples = bus.samples = p.time_us.samples;
    // min/max of the bandwidths follow from the times (the fastest sample has the most GB/s).
    const double bytes = static_cast<double>(p.bytes);
    alg.min = bytes / (p.time_us.max * 1e-6) / 1e9, alg.max = bytes / (p.time_us.min * 1e-6) / 1e9;
    alg.stdev = bus.stdev = NAN;
    const double factor = p.algbw_gbps > 0 ? p.busbw_gbps / p.algbw_gbps : 0;
    bus.min = alg.min * factor, bus.max = alg.max * factor;
    out.push_back(t);
    out.push_back(record{p.collective, label, "algbw_gbps", "GB/s", bytes, alg, p.wrong, true, false});
    out.push_back(record{p.collective, label, "busbw_gbps", "GB/s", bytes, bus, p.wrong, true, true});
  }
}

inline void collectives_svg(const std::string& dir, const std::vector<collective_point>& points, const std::string& where) {
  for (const auto& name : collective_names()) {
    std::vector<svg::series> busbw;
    for (const std::string engine : {"shard", "nccl"}) {
      svg::series s{name + " (" + engine + ")", {}};
      for (auto& p : points)
        if (p.collective == name && p.engine == engine) s.points.push_back({static_cast<double>(p.bytes), p.busbw_gbps});
      if (!s.points.empty()) busbw.push_back(s);
    }
    if (!busbw.empty())
      svg::save(dir + "/" + name + ".svg", svg::line_plot(name + ": bus bandwidth" + where, "size (bytes)", "busbw, GB/s", busbw));
  }
}

inline const family_registration collectives_family{family{
    "collectives",
    3,
    {{"all_reduce", "collectives", "all-reduce over a size sweep (nccl-tests' algbw and busbw)"},
     {"all_gather", "collectives", "all-gather over a size sweep"},
     {"reduce_scatter", "collectives", "reduce-scatter over a size sweep"},
     {"all_to_all", "collectives", "all-to-all over a size sweep"},
     {"broadcast", "collectives", "broadcast from --root over a size sweep"}},
    [](const target& tgt, const options& o, run_output& out) {
      const auto points = run_collectives(tgt, o);
      print_collectives(out.os, points, tgt.ctx.size(), o);
      for (const auto& name : collective_names())
        if (selected(o, name)) out.tests[name] = collectives_json(points, name, collective_settings(tgt, o));
      collective_records(points, out.records);
      if (!out.svg_dir.empty()) collectives_svg(out.svg_dir, points, out.where);
    }}};

}  // namespace bench
