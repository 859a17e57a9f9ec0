// The ordering of exchanges, checked on the graph of queue operations they issue: a device
// that runs nothing but records every copy, event and wait, so that the critical path (the
// longest chain of shard-to-shard copies that must happen one after another) can be read off.
// A copy engine moves one block per step, so an all-to-all of G shards needs G-1 steps and no
// more: every destination pulls from its G-1 sources one after another, all destinations at
// once. An exchange that orders copies against each other (each copy waiting for the previous
// one's shards) shows up here as a longer path.
#include "../support/test_support.hpp"

#include <shard/core/plan.hpp>
#include <shard/transport/collectives.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <set>

namespace {

/// Every operation queued on every device: a node with a weight (1 for a copy over a link,
/// 0 for anything else) and the nodes it must follow.
struct op_graph {
  struct node {
    int weight;
    std::vector<int> after;
  };
  std::vector<node> nodes;

  /// The heaviest chain of nodes: nodes are created in an order where every node follows
  /// the ones it depends on, so one pass suffices.
  int critical_path() const {
    std::vector<int> longest(nodes.size(), 0);
    int best = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      int before = 0;
      for (int p : nodes[i].after) before = std::max(before, longest[static_cast<std::size_t>(p)]);
      longest[i] = before + nodes[i].weight;
      best = std::max(best, longest[i]);
    }
    return best;
  }
};

class recorded_event final : public shard::detail::event {
 public:
  explicit recorded_event(int node) : node_(node) {}
  bool reached() const override { return true; }
  int node() const { return node_; }

 private:
  int node_;
};

/// A device whose queue only records. Memory is real (so pointers are distinct); nothing runs.
class recording_device final : public shard::detail::device {
 public:
  recording_device(int shard, std::shared_ptr<op_graph> graph) : shard_(shard), graph_(std::move(graph)) {}

  shard::backend kind() const noexcept override { return shard::backend::host; }
  int shard() const noexcept override { return shard_; }
  int ordinal() const noexcept override { return shard_; }
  shard::device_properties properties() const override {
    shard::device_properties p;
    p.ordinal = shard_;
    p.name = "recording device";
    return p;
  }
  void* allocate(std::size_t bytes) override { return bytes ? std::malloc(bytes) : nullptr; }
  void deallocate(void* p, std::size_t) noexcept override { std::free(p); }
  void* allocate_host(std::size_t bytes) override { return bytes ? std::malloc(bytes) : nullptr; }
  void deallocate_host(void* p, std::size_t) noexcept override { std::free(p); }
  void copy_from_host(void*, const void*, std::size_t) override { add(1, -1); }
  void copy_to_host(void*, const void*, std::size_t) override { add(1, -1); }
  bool host_copies_need_pinned_memory() const noexcept override { return false; }
  bool is_pinned(const void*) const override { return false; }
  void copy_local(void*, const void*, std::size_t) override { add(0, -1); }
  void copy_from_peer(void*, const shard::detail::device&, const void*, std::size_t) override { add(1, -1); }
  void copy_to_peer(const shard::detail::device&, void*, const void*, std::size_t) override { add(1, -1); }
  std::shared_ptr<shard::detail::event> record() override { return std::make_shared<recorded_event>(last_); }
  std::shared_ptr<shard::detail::event> record_timed() override { return record(); }
  double elapsed_ms(const shard::detail::event&, const shard::detail::event&) const override { return 0; }
  void wait(std::shared_ptr<shard::detail::event> e) override {
    add(0, static_cast<const recorded_event&>(*e).node());
  }
  void synchronize() override {}
  bool idle() override { return true; }
  void abandon() noexcept override {}

 private:
  void add(int weight, int also_after) {
    op_graph::node n{weight, {}};
    if (last_ >= 0) n.after.push_back(last_);
    if (also_after >= 0) n.after.push_back(also_after);
    graph_->nodes.push_back(std::move(n));
    last_ = static_cast<int>(graph_->nodes.size()) - 1;
  }
  int shard_;
  std::shared_ptr<op_graph> graph_;
  int last_ = -1;
};

/// A context of g recording devices, with peer access between all of them or none.
struct recorded_context {
  std::shared_ptr<op_graph> graph = std::make_shared<op_graph>();
  std::unique_ptr<shard::detail::context_impl> impl;

  recorded_context(std::size_t g, bool peer) {
    std::vector<std::unique_ptr<shard::detail::device>> devices;
    shard::topology topo;
    topo.backend = "host";
    for (std::size_t s = 0; s < g; ++s) {
      devices.push_back(std::make_unique<recording_device>(static_cast<int>(s), graph));
      topo.shards.push_back(devices.back()->properties());
    }
    for (std::size_t a = 0; a < g; ++a)
      for (std::size_t b = 0; b < g; ++b) {
        shard::link_properties l;
        l.same_device = a == b;
        l.peer_supported = l.peer_enabled = a != b && peer;
        topo.links.push_back(l);
      }
    impl = std::make_unique<shard::detail::context_impl>(shard::backend::host, std::move(devices), std::move(topo));
  }
};

/// Per-shard buffers of `n` ints (the exchanges need real, distinct pointers).
struct buffers {
  std::vector<std::vector<int>> owned;
  std::vector<int*> ptr;
  buffers(std::size_t g, std::size_t n) : owned(g, std::vector<int>(n)) {
    for (auto& o : owned) ptr.push_back(o.data());
  }
  std::vector<const int*> as_const() const { return {ptr.begin(), ptr.end()}; }
};

/// The largest number of distinct other shards any shard receives elements from when a
/// vector laid out as `from` is laid out as `to`: walks every index (independent of the
/// library's planner).
int most_sources(const std::vector<std::size_t>& from, const std::vector<std::size_t>& to) {
  auto owners = [](const std::vector<std::size_t>& sizes) {
    std::vector<std::size_t> owner;
    for (std::size_t s = 0; s < sizes.size(); ++s) owner.insert(owner.end(), sizes[s], s);
    return owner;
  };
  const auto a = owners(from), b = owners(to);
  std::vector<std::set<std::size_t>> sources(to.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) sources[b[i]].insert(a[i]);
  std::size_t most = 0;
  for (auto& s : sources) most = std::max(most, s.size());
  return static_cast<int>(most);
}

}  // namespace

TEST_CASE("event graph: all-to-all and all-gather over peer copies take G-1 steps" * doctest::test_suite("transport")) {
  for (std::size_t g = 2; g <= 8; ++g) {
    CAPTURE(g);
    {
      recorded_context ctx(g, true);
      buffers send(g, g), recv(g, g);
      shard::transport::all_to_all(*ctx.impl, send.as_const(), 1, recv.ptr, shard::transport::engine::copies);
      CHECK(ctx.graph->critical_path() == static_cast<int>(g - 1));
    }
    {
      recorded_context ctx(g, true);
      buffers send(g, 1), recv(g, g);
      shard::transport::all_gather(*ctx.impl, send.as_const(), 1, recv.ptr, shard::transport::engine::copies);
      CHECK(ctx.graph->critical_path() == static_cast<int>(g - 1));
    }
  }
}

TEST_CASE("event graph: a redistribution takes as many steps as the busiest destination has sources" *
          doctest::test_suite("transport")) {
  for (std::size_t g = 2; g <= 8; ++g) {
    const std::size_t n = 1000;
    std::vector<std::size_t> even(g, n / g), all_first(g, 0), all_last(g, 0), skewed(g, 0);
    for (std::size_t s = 0; s < n % g; ++s) ++even[s];
    all_first[0] = n;
    all_last[g - 1] = n;
    // Half on the last shard, the rest spread: most destinations get parts of a few sources.
    skewed[g - 1] = n / 2;
    for (std::size_t s = 0; s + 1 < g; ++s) skewed[s] = (n - n / 2) / (g - 1);
    skewed[0] += n - std::accumulate(skewed.begin(), skewed.end(), std::size_t{0});
    const std::vector<std::pair<std::vector<std::size_t>, std::vector<std::size_t>>> cases{
        {all_first, even}, {even, all_last}, {even, skewed}, {skewed, even}, {all_last, all_first}};
    for (std::size_t c = 0; c < cases.size(); ++c) {
      CAPTURE(g);
      CAPTURE(c);
      const auto& [from, to] = cases[c];
      recorded_context ctx(g, true);
      buffers src(g, n), dst(g, n);
      shard::transport::exchange(*ctx.impl, shard::detail::plan_redistribution(from, to, n), src.as_const(), dst.ptr);
      CHECK(ctx.graph->critical_path() == most_sources(from, to));
    }
  }
}

TEST_CASE("event graph: staged copies do not chain shards: an all-to-all takes 2(G-1) steps" *
          doctest::test_suite("transport")) {
  // Without peer access a block goes source -> pinned chunk (a push on the source's queue) ->
  // destination (a pull on its queue). Each shard's one queue carries its G-1 pushes and G-1
  // pulls, and nothing more may lengthen the path: a push queued behind a pull that waits on
  // another shard's push would chain all shards (G(G-1) steps and more).
  for (std::size_t g = 2; g <= 8; ++g) {
    CAPTURE(g);
    recorded_context ctx(g, false);
    buffers send(g, g), recv(g, g);
    shard::transport::all_to_all(*ctx.impl, send.as_const(), 1, recv.ptr, shard::transport::engine::copies);
    CHECK(ctx.graph->critical_path() == static_cast<int>(2 * (g - 1)));
  }
  // A block of many chunks: its pushes and pulls overlap (the chunks are reused in turn).
  recorded_context ctx(2, false);
  const std::size_t chunks = 3 * shard::detail::staging_pool::chunk_count;
  const std::size_t n = chunks * shard::detail::staging_pool::chunk_bytes / sizeof(int);
  buffers src(2, n), dst(2, n);
  shard::transport::copy(*ctx.impl, 0, src.ptr[0], 1, dst.ptr[1], chunks * shard::detail::staging_pool::chunk_bytes);
  CHECK(ctx.graph->critical_path() == static_cast<int>(chunks + 1));
}

TEST_CASE("event graph: a copy waits for its source's earlier work, and the source's later work waits for it" *
          doctest::test_suite("transport")) {
  recorded_context ctx(2, true);
  auto& a = ctx.impl->dev(0);
  auto& b = ctx.impl->dev(1);
  buffers buf(2, 4);
  a.copy_to_host(nullptr, nullptr, 1);  // "earlier work" on the source: one step
  shard::transport::copy(*ctx.impl, 0, buf.ptr[0], 1, buf.ptr[1], 4 * sizeof(int));
  a.copy_to_host(nullptr, nullptr, 1);  // later work on the source: after the pull
  b.copy_to_host(nullptr, nullptr, 1);  // later work on the destination: after the pull
  CHECK(ctx.graph->critical_path() == 3);
}
