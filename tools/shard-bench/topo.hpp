#pragma once
// shard-bench topo: the shards' devices and the route between every pair, and their measured
// speeds with the balanced layout (the family "topo", registered below).
#include "common.hpp"
#include "inside.hpp"

#include <ostream>

namespace bench {

inline json topology_json(const shard::topology& t, const target& tgt) {
  json v;
  v["backend"] = t.backend;
  json shards = json::array();
  for (std::size_t s = 0; s < t.shards.size(); ++s) {
    const auto& d = t.shards[s];
    json e;
    e["shard"] = s;
    e["device"] = tgt.ordinals.empty() ? d.ordinal : tgt.ordinals[s];
    e["name"] = d.name;
    e["memory_bytes"] = d.memory_bytes;
    e["multiprocessors"] = d.multiprocessors;
    e["compute_capability"] = std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor);
    e["bus_id"] = d.bus_id;
    e["rank"] = d.rank;
    e["host"] = d.host;
    shards.push_back(e);
  }
  v["shards"] = shards;
  json links = json::array();
  for (std::size_t a = 0; a < t.size(); ++a) {
    json row = json::array();
    for (std::size_t b = 0; b < t.size(); ++b) {
      const auto& l = t.link(a, b);
      json e;
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

inline const family_registration topology_family{family{
    "topo",
    0,
    {{"topology", "topo", "the shards' devices, bus ids, and the route between every pair"},
     {"balance", "topo", "each shard's speed (shard's calibration: a transform and a sort) and the balanced layout it gives"}},
    [](const target& tgt, const options& o, run_output& out) {
      if (selected(o, "topology")) {
        out.os << "== topology\n" << tgt.ctx.topology() << '\n';
        out.tests["topology"] = topology_json(tgt.ctx.topology(), tgt);
      }
      if (selected(o, "balance")) out.tests["balance"] = run_balance(tgt, o, out);
    }}};

}  // namespace bench
