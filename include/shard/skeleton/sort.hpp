#pragma once
/// @file skeleton/sort.hpp
/// Merge skeleton, the heart of sort, stable_sort, sort_by_key and merge: R sorted runs (each
/// on one shard, in stability order) become one sorted sequence laid out by the output's
/// segment sizes, stable (equivalent keys keep run order, then position).
///
/// 1. Exact splitting (split_runs): for every output boundary T_d (a global rank), the
///    number p_j of run j's elements that go before it, so that sum_j p_j = T_d exactly,
///    whatever the keys (all equal, skewed, sorted...). Two to four gathers of metadata, each one
///    host sync, none of which grows with n:
///    a. samples, m per run (m ~ sqrt(2 x run size)): its ends and m - 2 regularly spaced,
///       staggered between runs;
///    b. for every boundary, a window of keys around its rank estimated from the samples:
///       in every run, the window's bounds and its elements, ranked on the host. That
///       settles every boundary but those whose estimate was far off or whose window is
///       crowded in some run (keys alike), which take two more gathers, as follows:
///    c. the exact lower and upper bound, in every run, of a few samples whose rank could
///       be a boundary's (bounded from the samples alone; chosen around the estimate);
///    d. when a boundary falls strictly between two neighbouring queried samples, the run
///       elements between them, selected on the host.
///    Ties are broken by run index, then position: that is the stability.
/// 2. One exchange in the rotated order (transport::exchange's order): run j's part
///    [p_j(T_d), p_j(T_d+1)) goes to shard d; an element moves at most once, and only when
///    its run's shard is not its destination.
/// 3. On every shard, a stable merge of the received runs (primitive merge_runs).
#include <shard/config.hpp>
#include <shard/core/buffer.hpp>
#include <shard/core/functors.hpp>
#include <shard/core/plan.hpp>
#include <shard/core/run.hpp>
#include <shard/core/segmented_buffer.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/primitive/sort.hpp>
#include <shard/skeleton/memory.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/transport/copy.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// A sorted run of keys (and values, unless V is void) on one shard.
template <class K, class V>
struct sorted_run {
  std::size_t shard;
  const K* keys;
  const V* values;
  std::size_t size;
};

namespace splitting {

/// Samples per run for runs of at most `largest` elements: the m that balances the samples
/// (m per run) against the window of step d (largest / m per run).
inline std::size_t samples_per_run(std::size_t largest) {
  const auto m = static_cast<std::size_t>(std::ceil(std::sqrt(2.0 * static_cast<double>(largest))));
  return std::clamp<std::size_t>(m, 1, std::max<std::size_t>(largest, 1));
}

/// Bounds on the number of run elements before a key, from the run's samples alone: the
/// samples at positions pos[0..m) of which `below` are before the key.
inline std::size_t lowest(const std::vector<std::size_t>& pos, std::size_t below) {
  return below == 0 ? 0 : pos[below - 1] + 1;
}
inline std::size_t highest(const std::vector<std::size_t>& pos, std::size_t below, std::size_t size) {
  return below == pos.size() ? size : pos[below];
}

/// Runs grouped by shard (indices into the run list), in run order.
template <class Run>
std::vector<std::vector<std::size_t>> runs_by_shard(const std::vector<Run>& runs, std::size_t shards) {
  std::vector<std::vector<std::size_t>> out(shards);
  for (std::size_t j = 0; j < runs.size(); ++j) out[runs[j].shard].push_back(j);
  return out;
}

/// Keys on the host, sorted and searched there with the comparator: std::vector<K>, but
/// std::deque<bool> for bool (std::vector<bool>'s proxy references would reach a
/// __host__ __device__ comparator, which nvcc rejects, and it has no data()).
template <class K>
using key_list = std::conditional_t<std::is_same_v<K, bool>, std::deque<bool>, std::vector<K>>;

/// What every phase works on: the runs, the output ranks to split at, and the answer so far
/// (split[t][j]: run j's elements before target t).
template <class K, class V, class Comp>
struct problem {
  context_impl& ctx;
  const std::vector<sorted_run<K, V>>& runs;
  const std::vector<std::size_t>& targets;
  Comp comp;
  std::vector<std::vector<std::size_t>> by_shard;  // runs_by_shard
  std::vector<std::vector<std::size_t>> split;
  bool equivalent(const K& a, const K& b) const { return !comp(a, b) && !comp(b, a); }
  /// The most runs one shard holds.
  std::size_t most_runs() const {
    std::size_t most = 0;
    for (const auto& runs_here : by_shard) most = std::max(most, runs_here.size());
    return most;
  }
};

/// Queues `keys` to every shard that holds runs, into `on_shard` (the needles a gather's
/// searches read; called inside its wait, as its `prepare`). Keys are uploaded as they are
/// (bool included: upload copies element by element).
template <class K, class V, class Comp>
void upload_to_run_shards(const problem<K, V, Comp>& pb, const std::vector<K>& keys, segmented_buffer<K>& on_shard) {
  const std::size_t shards = pb.ctx.size();
  std::vector<std::size_t> sizes(shards, 0);
  std::vector<std::vector<K>> values(shards);
  for (std::size_t s = 0; s < shards; ++s)
    if (!pb.by_shard[s].empty()) sizes[s] = keys.size(), values[s] = keys;
  on_shard = segmented_buffer<K>(pb.ctx, sizes);
  upload(pb.ctx, values, on_shard.pointers());
}

/// Adds one to split[j] for each of the first `take` of `items` (run j, element) in the stable
/// order (key, run, position; within a run the elements lie at ascending addresses). Only
/// which elements come first matters, not their order: a selection, O(items).
template <class K, class Comp>
void count_first(std::vector<std::pair<std::size_t, const K*>>& items, std::size_t take, Comp& comp,
                 std::vector<std::size_t>& split) {
  if (take == 0) return;
  std::nth_element(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(take - 1), items.end(),
                   [&](const auto& x, const auto& y) {
                     if (comp(*x.second, *y.second)) return true;
                     if (comp(*y.second, *x.second)) return false;
                     return x < y;  // run, then position
                   });
  for (std::size_t i = 0; i < take; ++i) ++split[items[i].first];
}

/// Fills the splits that need no search (a target at 0 or at the total, or a single run) and
/// returns the targets left open.
template <class P>
std::vector<std::size_t> settle_trivial(P& pb) {
  std::size_t total = 0;
  for (const auto& r : pb.runs) total += r.size;
  std::vector<std::size_t> open;
  for (std::size_t t = 0; t < pb.targets.size(); ++t) {
    if (pb.targets[t] == 0) continue;
    if (pb.targets[t] >= total) {
      for (std::size_t j = 0; j < pb.runs.size(); ++j) pb.split[t][j] = pb.runs[j].size;
    } else if (pb.runs.size() == 1) {
      pb.split[t][0] = pb.targets[t];
    } else {
      open.push_back(t);
    }
  }
  return open;
}

/// Phase a: each run's regular samples and their positions in the run.
template <class K>
struct run_samples {
  std::vector<key_list<K>> keys;                    // per run
  std::vector<std::vector<std::size_t>> positions;  // per run, ascending
};

/// Where run `run`'s inner samples start within their first gap (sample_position's phase,
/// in [0, size - 2)): the runs' samples are staggered (golden-ratio steps), so that samples
/// at the same positions of runs of alike data do not line up in bands of near-equal keys,
/// which would bias the rank estimates that plan_queries centres its queries on.
inline std::size_t sample_phase(std::size_t run, std::size_t size) {
  if (size <= 2) return 0;
  const double step = 0.6180339887498949;  // 1 / golden ratio
  const double fraction = static_cast<double>(run) * step - std::floor(static_cast<double>(run) * step);
  return std::min(size - 3, static_cast<std::size_t>(fraction * static_cast<double>(size - 2)));
}

/// Gathers m = samples_per_run(largest run) samples of every run, at positions
/// sample_position(i, size, m, sample_phase(run)), on the host (one host sync; `prepare()` is
/// queued first, inside the same wait).
template <class K, class V, class Comp, class Prepare>
run_samples<K> gather_samples(const problem<K, V, Comp>& pb, Prepare&& prepare) {
  const std::size_t run_count = pb.runs.size();
  std::size_t largest = 0;
  for (const auto& r : pb.runs) largest = std::max(largest, r.size);
  const std::size_t per_run = samples_per_run(largest);
  std::vector<std::size_t> count(run_count), slot_offset(run_count);
  std::size_t per_shard = 0;  // the gather's k: the most samples one shard contributes
  for (const auto& runs_here : pb.by_shard) {
    std::size_t here = 0;
    for (auto j : runs_here) {
      count[j] = std::min(per_run, pb.runs[j].size);
      slot_offset[j] = here;
      here += count[j];
    }
    per_shard = std::max(per_shard, here);
  }
  const auto gathered = all_gather<K>(
                            pb.ctx, per_shard,
                            [&](std::size_t s, K* slot) {
                              if (pb.by_shard[s].empty()) return false;
                              launch(pb.ctx, s, [&](auto& dev) {
                                for (auto j : pb.by_shard[s]) {
                                  const auto& run = pb.runs[j];
                                  if (count[j] != 0)
                                    primitive::for_each_index(
                                        dev, count[j],
                                        sample_fn<K>{run.keys, run.size, count[j], slot + slot_offset[j],
                                                     sample_phase(j, run.size)});
                                }
                              });
                              return true;
                            },
                            seen_by::host, prepare)
                            .host;
  run_samples<K> out{std::vector<key_list<K>>(run_count), std::vector<std::vector<std::size_t>>(run_count)};
  for (std::size_t j = 0; j < run_count; ++j) {
    const K* first = gathered.data() + pb.runs[j].shard * per_shard + slot_offset[j];
    out.keys[j].assign(first, first + count[j]);
    const std::size_t phase = sample_phase(j, pb.runs[j].size);
    for (std::size_t i = 0; i < count[j]; ++i)
      out.positions[j].push_back(sample_position(i, pb.runs[j].size, count[j], phase));
  }
  return out;
}

/// Asks the processor to bring the cache line at `p` in (a hint; nothing where the compiler
/// has no such builtin).
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

/// Calls f(begin, end) on blocks of [0, n) that together cover it, on up to as many host
/// threads as the machine runs at once (this one included), at least `grain` items a block;
/// returns when all are done, rethrowing the first exception of a block. Where a thread
/// cannot be started, its block runs on this thread.
template <class F>
void on_host_threads(std::size_t n, std::size_t grain, F&& f) {
  const std::size_t hardware = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  const std::size_t blocks = std::max<std::size_t>(1, std::min(hardware, n / std::max<std::size_t>(grain, 1)));
  if (blocks == 1) return f(std::size_t{0}, n);
  std::vector<std::exception_ptr> failures(blocks);
  auto run = [&](std::size_t b) {
    try {
      f(n * b / blocks, n * (b + 1) / blocks);
    } catch (...) {
      failures[b] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(blocks - 1);
  std::vector<std::size_t> here;  // the blocks this thread runs (reserved: no allocation once threads run)
  here.reserve(blocks);
  here.push_back(0);
  for (std::size_t b = 1; b < blocks; ++b) {
    try {
      threads.emplace_back(run, b);
    } catch (...) {
      here.push_back(b);  // no thread: this one runs the block
    }
  }
  for (auto b : here) run(b);
  for (auto& t : threads) t.join();
  for (auto& e : failures)
    if (e) std::rethrow_exception(e);
}

/// The candidates, on the host: the distinct sample keys, sorted, with bounds on each one's exact
/// ranks from the samples alone: at least `before_at_least` elements are ordered before it,
/// at most `not_after_at_most` are not ordered after it.
template <class K>
struct candidates {
  key_list<K> keys;
  std::vector<std::size_t> before_at_least;
  std::vector<std::size_t> not_after_at_most;
  std::vector<std::size_t> first_sample;  // candidate i's samples: sample_run[first_sample[i], first_sample[i + 1])
  std::vector<std::size_t> sample_run;    // the run of every sample, in candidate order
  std::vector<std::size_t> sample_position;  // and its position in the run
};

template <class K, class V, class Comp>
candidates<K> bound_candidates(const problem<K, V, Comp>& pb, const run_samples<K>& samples) {
  // Every sample as (run, index in its run), sorted by key, stably (run order, then index):
  // one sweep over them gives both bounds of every distinct key, O(S log S) for S samples in
  // all, instead of a search of every run for every key (O(S x runs x log m)).
  // (Each entry holds its key: the sort then reads no other memory.)
  // (32-bit run and sample indices: a run has fewer than 2^32 samples, samples_per_run, and a
  // context fewer than 2^32 runs; smaller entries merge faster.)
  struct entry {
    K key;
    std::uint32_t run, index;
  };
  std::vector<entry> all;
  std::vector<std::size_t> run_start{0};  // each run's samples are sorted already (its run is)
  {
    std::size_t total = 0;
    for (const auto& k : samples.keys) total += k.size();
    all.reserve(total);
  }
  for (std::size_t j = 0; j < samples.keys.size(); ++j) {
    for (std::size_t i = 0; i < samples.keys[j].size(); ++i)
      all.push_back(entry{samples.keys[j][i], static_cast<std::uint32_t>(j), static_cast<std::uint32_t>(i)});
    run_start.push_back(all.size());
  }
  const auto key = [](const entry& e) -> const K& { return e.key; };
  {
    // Adjacent groups of runs merged stably (std::merge; ties from the lower runs first) give
    // the stable sort's order whatever the tree: each host thread merges a group of runs
    // (top-down, between two copies of the entries), then the groups are merged pairwise.
    const std::size_t runs = samples.keys.size();
    std::vector<entry> other(all);  // the same entries: the group merges alternate between the two
    const auto merge = [&](const std::vector<entry>& from, std::vector<entry>& to, std::size_t r0, std::size_t mid,
                           std::size_t r1, Comp& comp) {
      std::merge(from.begin() + run_start[r0], from.begin() + run_start[mid], from.begin() + run_start[mid],
                 from.begin() + run_start[r1], to.begin() + run_start[r0],
                 [&](const entry& a, const entry& b) { return comp(a.key, b.key); });
    };
    // Runs [r0, r1) sorted into `to`, where `from` and `to` hold the same entries there.
    const auto group = [&](auto& self, std::vector<entry>& from, std::vector<entry>& to, std::size_t r0,
                           std::size_t r1, Comp& comp) -> void {
      if (r1 - r0 < 2) return;
      const std::size_t mid = r0 + (r1 - r0) / 2;
      self(self, to, from, r0, mid, comp);
      self(self, to, from, mid, r1, comp);
      merge(from, to, r0, mid, r1, comp);
    };
    // (Two runs a group at least: a group of one has nothing to merge, not worth a thread.)
    const std::size_t groups =
        std::max<std::size_t>(1, std::min<std::size_t>(runs / 2, std::thread::hardware_concurrency()));
    on_host_threads(groups, 1, [&](std::size_t g0, std::size_t g1) {
      Comp comp = pb.comp;  // each thread its own copy of the comparator
      for (std::size_t g = g0; g < g1; ++g) group(group, other, all, runs * g / groups, runs * (g + 1) / groups, comp);
    });
    Comp comp = pb.comp;
    for (std::size_t width = 1; width < groups; width *= 2) {  // then the groups, pairwise, from `all`
      for (std::size_t a = 0; a < groups; a += 2 * width) {
        const std::size_t m = std::min(a + width, groups), b = std::min(a + 2 * width, groups);
        merge(all, other, runs * a / groups, runs * m / groups, runs * b / groups, comp);
      }
      all.swap(other);
    }
  }
  candidates<K> c;
  if constexpr (!std::is_same_v<K, bool>) c.keys.reserve(all.size());
  c.before_at_least.reserve(all.size());
  c.not_after_at_most.reserve(all.size());
  c.first_sample.reserve(all.size() + 1);
  c.sample_run.reserve(all.size());
  c.sample_position.reserve(all.size());
  // below[j]: run j's samples ordered before the current key; not_after likewise, up to and
  // including the current key's ties. The sums of the bounds they give, kept as they change.
  std::vector<std::size_t> below(samples.keys.size(), 0), not_after(samples.keys.size(), 0);
  std::size_t low = 0, high = 0;
  for (std::size_t j = 0; j < samples.keys.size(); ++j)
    high += highest(samples.positions[j], 0, pb.runs[j].size);
  for (std::size_t a = 0; a < all.size();) {
    std::size_t b = a + 1;
    while (b < all.size() && pb.equivalent(key(all[a]), key(all[b]))) ++b;
    c.keys.push_back(key(all[a]));
    c.before_at_least.push_back(low);
    c.first_sample.push_back(a);
    for (std::size_t e = a; e < b; ++e)
      c.sample_run.push_back(all[e].run), c.sample_position.push_back(samples.positions[all[e].run][all[e].index]);
    for (std::size_t e = a; e < b; ++e) {  // this key's ties are no longer after it
      const std::size_t j = all[e].run;
      high -= highest(samples.positions[j], not_after[j], pb.runs[j].size);
      ++not_after[j];
      high += highest(samples.positions[j], not_after[j], pb.runs[j].size);
    }
    c.not_after_at_most.push_back(high);
    for (std::size_t e = a; e < b; ++e) {  // and are before the next key
      const std::size_t j = all[e].run;
      low -= lowest(samples.positions[j], below[j]);
      ++below[j];
      low += lowest(samples.positions[j], below[j]);
    }
    a = b;
  }
  c.first_sample.push_back(all.size());
  return c;
}

/// The candidates whose exact ranks phase c queries, per open target r: the span from the
/// last candidate surely at or before r to the first one surely after it (both bounds from
/// the samples), whole when it has at most queries_per_target candidates; otherwise its two
/// ends and the candidates at `query_offsets` from the one whose estimated rank (the
/// midpoint of its bounds) is first at or above r. The estimate's error is the sum of one
/// uniform error per run (the staggered samples, sample_phase): about sqrt(runs / 12) sample
/// gaps, a few candidates at any G (within +-16 for all 255 targets at G = 256, docs/sort.md).
/// So the queries, and the counts every shard returns for them, stay O(G) per shard, and the
/// window of step d around a boundary is a candidate gap or two in the common case, and at
/// worst (an estimate off by more than the offsets reach) the part of the span beyond the
/// outermost query: correct either way.
inline constexpr std::size_t query_offsets_count = 9;
inline constexpr std::ptrdiff_t query_offsets[query_offsets_count] = {-24, -8, -3, -1, 0, 1, 3, 8, 24};
inline constexpr std::size_t queries_per_target = query_offsets_count + 2;

struct query_plan {
  std::vector<std::vector<std::size_t>> chosen;  // per open target: its candidates, ascending
  std::vector<std::size_t> candidate;            // the queried candidates, ascending
  std::vector<std::size_t> index_of;             // per candidate: its index in `candidate`
};

/// Where target `rank`'s boundary can lie among the candidates: from the last one surely at
/// or before it to the first one surely after it (both bounds from the samples), and the
/// first one in that span whose estimated rank (the midpoint of its bounds) is at or above
/// it.
struct candidate_span {
  std::size_t first, last, estimate;
};

template <class K>
candidate_span span_of(const candidates<K>& c, std::size_t rank) {
  const std::size_t count = c.keys.size();
  // Both bounds grow with the key: the last candidate with not_after_at_most <= rank, and
  // the first with before_at_least > rank.
  const auto at_or_before = std::upper_bound(c.not_after_at_most.begin(), c.not_after_at_most.end(), rank);
  const std::size_t first = at_or_before == c.not_after_at_most.begin()
                                ? 0
                                : static_cast<std::size_t>(at_or_before - c.not_after_at_most.begin()) - 1;
  const auto after = std::upper_bound(c.before_at_least.begin(), c.before_at_least.end(), rank);
  std::size_t last = after == c.before_at_least.end() ? count - 1 : static_cast<std::size_t>(after - c.before_at_least.begin());
  if (last < first) last = first;
  // The estimate grows with the key too.
  std::size_t lo = first, hi = last;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (c.before_at_least[mid] / 2 + c.not_after_at_most[mid] / 2 < rank) lo = mid + 1;
    else hi = mid;
  }
  return {first, last, lo};
}

template <class K>
query_plan plan_queries(const candidates<K>& c, const std::vector<std::size_t>& targets,
                        const std::vector<std::size_t>& open) {
  const std::size_t count = c.keys.size();
  query_plan plan{std::vector<std::vector<std::size_t>>(open.size()), {}, std::vector<std::size_t>(count, 0)};
  std::vector<char> queried(count, 0);
  for (std::size_t o = 0; o < open.size(); ++o) {
    const candidate_span span = span_of(c, targets[open[o]]);
    auto& chosen = plan.chosen[o];
    if (span.last - span.first + 1 <= queries_per_target) {
      for (std::size_t i = span.first; i <= span.last; ++i) chosen.push_back(i);
    } else {
      chosen.push_back(span.first);
      for (const auto offset : query_offsets) {
        const auto i = static_cast<std::ptrdiff_t>(span.estimate) + offset;
        if (i > static_cast<std::ptrdiff_t>(chosen.back()) && i < static_cast<std::ptrdiff_t>(span.last))
          chosen.push_back(static_cast<std::size_t>(i));
      }
      chosen.push_back(span.last);
    }
    for (auto i : chosen) queried[i] = 1;
  }
  for (std::size_t i = 0; i < count; ++i)
    if (queried[i]) plan.index_of[i] = plan.candidate.size(), plan.candidate.push_back(i);
  return plan;
}

/// Phase b in one round trip, for most targets: every run's elements in a window of keys
/// around each target's estimate (candidates estimate - reach .. estimate + reach of its
/// span, the keys' bounds in every run and the run's elements between them, each run's
/// windows packed one after another in a room of `capacity` elements), ranked on the host.
/// The estimate's error is about sqrt(runs / 12) candidates (plan_queries), so the window
/// holds the boundary but for an estimate off by more than 4.5 of those; a target whose
/// boundary lies outside its window, or whose window lies past the end of some run's room,
/// is left to the queries and windows below.
inline std::size_t slice_reach(std::size_t runs) {
  return static_cast<std::size_t>(std::ceil(4.5 * std::sqrt(static_cast<double>(runs) / 12.0))) + 2;
}

/// Gathered slices above this many bytes in all are not worth one round trip: the queries
/// and windows take those targets.
inline constexpr std::size_t slices_max_bytes = std::size_t{64} << 20;
/// Elements of the slices one index of the copy takes (packed_slice_fn) on a GPU: many
/// threads, each searching where its chunk starts. A device of one multiprocessor (an
/// emulated device, one thread) takes them all in one index (one search, then one walk over
/// the windows).
inline constexpr std::size_t slice_chunk = 32;

/// The lower (upper) bound of `key` in the n sorted elements at `b`, as an index: a
/// bisection without branches on the comparisons (the slices are short, their outcomes
/// unpredictable).
template <class K, class Comp>
std::size_t slice_search(const K* b, std::size_t n, const K& key, Comp& comp, bool upper) {
  if (n == 0) return 0;
  const K* base = b;
  if (upper) {
    while (n > 1) {
      const std::size_t half = n / 2;
      base = comp(key, base[half]) ? base : base + half;
      n -= half;
    }
    return static_cast<std::size_t>(base - b) + (comp(key, *base) ? 0 : 1);
  }
  while (n > 1) {
    const std::size_t half = n / 2;
    base = comp(base[half], key) ? base + half : base;
    n -= half;
  }
  return static_cast<std::size_t>(base - b) + (comp(*base, key) ? 1 : 0);
}

/// Settles the open targets whose boundary their slices hold; returns the others.
template <class K, class V, class Comp>
std::vector<std::size_t> settle_in_slices(problem<K, V, Comp>& pb, const candidates<K>& c,
                                          const std::vector<std::size_t>& open) {
  if constexpr (alignof(K) > alignof(std::size_t)) {
    return open;  // the slices share the counts' words
  } else {
    const std::size_t targets = open.size(), shards = pb.ctx.size(), run_count = pb.runs.size();
    const std::size_t reach = slice_reach(run_count);
    std::vector<std::size_t> first(targets), last(targets);
    std::size_t largest = 0;
    const std::size_t most_runs = pb.most_runs();
    for (std::size_t o = 0; o < targets; ++o) {
      const candidate_span span = span_of(c, pb.targets[open[o]]);
      first[o] = span.estimate > span.first + reach ? span.estimate - reach : span.first;
      last[o] = std::min(span.last, span.estimate + reach);
    }
    for (const auto& r : pb.runs) largest = std::max(largest, r.size);
    // Every run's parts of the windows go packed one after another into `capacity` elements
    // per run (where each starts: range_offsets_fn, on the shard). Keys spread over the runs
    // put about E = (the windows' widths in candidates) x size / candidates of a run's
    // elements in its windows, a sum of many small counts: room for 1.1 E, 6 standard
    // deviations and 64 more. Keys that are not spread (runs in disjoint key ranges, as in
    // sorted input or a merge; many equal keys) put whole sample gaps of one run in a
    // window: a run with samples at positions p < q in a window holds at most q - p + 1
    // elements and a gap on either side there, and its room grows by that (when the slices
    // then outgrow slices_max_bytes, the queries and windows take every target). The targets
    // past the end of a run's room are left to the queries and windows.
    double width = 0;
    for (std::size_t o = 0; o < targets; ++o) width += static_cast<double>(last[o] - first[o] + 1);
    const double expected = width * static_cast<double>(largest) / static_cast<double>(c.keys.size());
    std::size_t capacity = static_cast<std::size_t>(std::ceil(1.1 * expected + 6 * std::sqrt(expected))) + 64;
    {
      const std::size_t m = samples_per_run(largest);
      std::vector<std::size_t> lowest_at(run_count, 0), highest_at(run_count, 0), seen(run_count, 0),
          gaps(run_count, 0);
      for (std::size_t o = 0; o < targets; ++o) {
        const std::size_t a = c.first_sample[first[o]], b = c.first_sample[last[o] + 1];
        for (std::size_t e = a; e < b; ++e) {
          const std::size_t j = c.sample_run[e], p = c.sample_position[e];
          if (seen[j]++ == 0) lowest_at[j] = highest_at[j] = p;
          lowest_at[j] = std::min(lowest_at[j], p), highest_at[j] = std::max(highest_at[j], p);
        }
        for (std::size_t e = a; e < b; ++e) {
          const std::size_t j = c.sample_run[e];
          if (seen[j] >= 2) {
            // The widest gap between two of run j's samples (sample_position).
            const std::size_t gap = m > 2 ? (pb.runs[j].size + m - 3) / (m - 2) + 1 : pb.runs[j].size;
            gaps[j] += highest_at[j] - lowest_at[j] + 1 + 2 * gap;
          }
          seen[j] = 0;
        }
      }
      capacity += *std::max_element(gaps.begin(), gaps.end());
    }
    // No run has more than `largest` elements in any one window (windows of equal keys
    // overlap, each up to the whole run).
    if (capacity / targets >= largest) capacity = largest * targets;
    // (Checked by division first: the products below then cannot wrap.)
    if (capacity > slices_max_bytes / (most_runs * sizeof(K) * shards)) return open;
    const std::size_t count_words = 2 * targets * most_runs;     // per run: lower, then upper bounds
    const std::size_t offset_words = (targets + 1) * most_runs;  // per run: where its windows start
    const std::size_t element_bytes = most_runs * capacity * sizeof(K);
    const std::size_t per_shard =
        count_words + offset_words + (element_bytes + sizeof(std::size_t) - 1) / sizeof(std::size_t);
    if (per_shard * shards * sizeof(std::size_t) > slices_max_bytes) return open;
    std::vector<K> needles;  // the windows' first keys, then their last keys
    for (std::size_t o = 0; o < targets; ++o) needles.push_back(c.keys[first[o]]);
    for (std::size_t o = 0; o < targets; ++o) needles.push_back(c.keys[last[o]]);
    segmented_buffer<K> on_shard;
    // In place (all_gather_in_place): read once below, before anything gathers again.
    const std::size_t* words = all_gather_in_place<std::size_t>(
        pb.ctx, per_shard,
        [&](std::size_t s, std::size_t* slot) {
          if (pb.by_shard[s].empty()) return false;
          // A device that runs one thread at a time (one multiprocessor: an emulated device)
          // takes the windows in one index; a GPU in chunks of slice_chunk, one thread each.
          const std::size_t chunk = pb.ctx.topology().shards[s].multiprocessors <= 1 ? capacity : slice_chunk;
          launch(pb.ctx, s, [&](auto& dev) {
            const auto* lows = static_cast<const K*>(on_shard.data(s));
            auto* elements = reinterpret_cast<K*>(slot + count_words + offset_words);
            for (std::size_t i = 0; i < pb.by_shard[s].size(); ++i) {
              const auto& run = pb.runs[pb.by_shard[s][i]];
              std::size_t* from = slot + 2 * targets * i;
              std::size_t* offsets = slot + count_words + (targets + 1) * i;
              primitive::bounds(dev, run.keys, run.size, lows, targets, from, pb.comp, false);
              primitive::bounds(dev, run.keys, run.size, lows + targets, targets, from + targets, pb.comp, true);
              primitive::for_each_index(dev, 1, range_offsets_fn{from, from + targets, targets, offsets});
              primitive::for_each_index(dev, (capacity + chunk - 1) / chunk,
                                        packed_slice_fn<K>{run.keys, from, offsets, targets, capacity, chunk,
                                                           elements + i * capacity});
            }
          });
          return true;
        },
        [&] { upload_to_run_shards(pb, needles, on_shard); });
    // Per run, read where they arrived: its bounds, where its windows start
    // (range_offsets_fn's) and its room of packed windows.
    std::vector<const std::size_t*> bounds_of(run_count), offsets_of(run_count);
    std::vector<const K*> room(run_count);
    for (std::size_t s = 0; s < shards; ++s)
      for (std::size_t i = 0; i < pb.by_shard[s].size(); ++i) {
        const std::size_t j = pb.by_shard[s][i], *w = words + s * per_shard;
        bounds_of[j] = w + 2 * targets * i;
        offsets_of[j] = w + count_words + (targets + 1) * i;
        room[j] = reinterpret_cast<const K*>(w + count_words + offset_words) + i * capacity;
      }
    // The targets are independent: host threads rank blocks of them (the shards are idle
    // meanwhile), each with its own scratch and its own copy of the comparator.
    std::vector<char> unsettled(targets, 0);
    on_host_threads(targets, 16, [&](std::size_t o_begin, std::size_t o_end) {
      Comp comp = pb.comp;
      std::vector<std::size_t> from(run_count), length(run_count);
      std::vector<std::size_t> low(run_count), high(run_count), high_below(run_count), high_above(run_count);
      std::vector<const K*> slice(run_count);  // per run: the target's window, where it arrived
      std::vector<std::pair<std::size_t, const K*>> items;
      for (std::size_t o = o_begin; o < o_end; ++o) {
        const std::size_t rank = pb.targets[open[o]];
        std::size_t before = 0, not_after = 0;
        bool whole = true;
        for (std::size_t j = 0; j < run_count; ++j) {
          const std::size_t* counts = bounds_of[j];
          from[j] = counts[o];
          length[j] = counts[targets + o] - counts[o];
          before += from[j], not_after += counts[targets + o];
          // The run's windows follow one another in its room (a window past its end is not read).
          slice[j] = room[j] + std::min(offsets_of[j][o], capacity);
          whole = whole && offsets_of[j][o + 1] <= capacity;
          // The next target's window of this run starts where this one ends: asked for now, it
          // arrives while this target is ranked (one miss per run and target otherwise).
          prefetch(room[j] + std::min(offsets_of[j][o + 1], capacity));
        }
        auto& split = pb.split[open[o]];
        if (rank == before || rank == not_after) {  // at an end of the window: no element of it needed
          for (std::size_t j = 0; j < run_count; ++j) split[j] = from[j] + (rank == before ? 0 : length[j]);
          continue;
        }
        if (!whole || rank < before || rank > not_after) {
          unsettled[o] = 1;
          continue;
        }
        // The window's candidates are its pivots: the first, q, whose not-after count exceeds
        // the target (the last one's is not_after > rank). count_at(p, upper) counts the
        // elements before candidate p (not after it, when `upper`), and leaves each run's part of
        // them within its slice in `at`.
        auto count_at = [&](std::size_t p, bool upper, std::vector<std::size_t>& at) {
          std::size_t n = 0;
          for (std::size_t j = 0; j < run_count; ++j) {
            at[j] = slice_search(slice[j], length[j], c.keys[p], comp, upper);
            n += from[j] + at[j];
          }
          return n;
        };
        // q in [lo, hi]; below (high_below per run): the elements not after candidate lo - 1
        // (none of the window's, at first), at most the rank; above (high_above): those not
        // after hi, more than the rank. Each step guesses by interpolating the rank between
        // them (keys spread about evenly over the candidates take two or three steps); every
        // third step bisects (any spread).
        std::size_t lo = first[o], hi = last[o], below = before, above = not_after;
        std::fill(high_below.begin(), high_below.end(), std::size_t{0});
        high_above = length;
        for (int step = 0; lo < hi; ++step) {
          std::size_t p = lo + (hi - lo) / 2;
          if (step % 3 != 2)
            p = lo + static_cast<std::size_t>(static_cast<double>(rank - below) / static_cast<double>(above - below) *
                                              static_cast<double>(hi - lo));
          p = std::min(p, hi - 1);
          const std::size_t at = count_at(p, true, high);
          if (at > rank) hi = p, above = at, high_above.swap(high);
          else lo = p + 1, below = at, high_below.swap(high);
        }
        const std::size_t q = lo;
        if (count_at(q, false, low) <= rank) {  // on q's ties: everything before q, then its ties in run order
          std::size_t ties_left = rank;
          for (std::size_t j = 0; j < run_count; ++j) ties_left -= from[j] + low[j];
          for (std::size_t j = 0; j < run_count; ++j) {
            const std::size_t ties = std::min(high_above[j] - low[j], ties_left);
            split[j] = from[j] + low[j] + ties;
            ties_left -= ties;
          }
          continue;
        }
        // Strictly between candidates q - 1 (q > first[o]: the first one's lower count is
        // `before`, at most the rank; so `below` counts up to q - 1) and q: the first
        // (rank - below) of those elements in (key, run, position) order.
        const std::size_t take = rank - below;
        items.clear();
        for (std::size_t j = 0; j < run_count; ++j) {
          split[j] = from[j] + high_below[j];
          for (std::size_t i = high_below[j]; i < low[j]; ++i) items.emplace_back(j, slice[j] + i);
        }
        count_first(items, take, comp, split);
      }
    });
    std::vector<std::size_t> left;
    for (std::size_t o = 0; o < targets; ++o)
      if (unsettled[o]) left.push_back(open[o]);
    return left;
  }
}

/// Phase c's answer: per run, the exact number of its elements before a queried candidate
/// (lower bound) and not after it (upper bound).
struct exact_ranks {
  std::vector<std::size_t> counts;    // gathered: per shard, per run there, lower then upper bounds
  std::vector<std::size_t> run_slot;  // per run: where its bounds start in `counts`
  std::size_t queries = 0;
  std::vector<std::size_t> index_of;  // query_plan::index_of
  std::size_t before(std::size_t run, std::size_t candidate) const { return counts[run_slot[run] + index_of[candidate]]; }
  std::size_t not_after(std::size_t run, std::size_t candidate) const {
    return counts[run_slot[run] + queries + index_of[candidate]];
  }
};

/// Uploads the queried keys to every shard with runs and searches them in each run there
/// (primitive bounds), gathering the results on the host (one host sync).
template <class K, class V, class Comp>
exact_ranks rank_queries(const problem<K, V, Comp>& pb, const candidates<K>& c, const query_plan& plan) {
  const std::size_t shards = pb.ctx.size();
  std::vector<K> keys;
  for (auto i : plan.candidate) keys.push_back(c.keys[i]);
  const std::size_t queries = keys.size();
  const std::size_t most_runs = pb.most_runs();
  const std::size_t per_run = 2 * queries;  // lower bounds, then upper bounds
  segmented_buffer<K> on_shard;
  exact_ranks out;
  out.queries = queries;
  out.index_of = plan.index_of;
  out.counts = all_gather<std::size_t>(
                   pb.ctx, per_run * most_runs,
                   [&](std::size_t s, std::size_t* slot) {
                     if (pb.by_shard[s].empty()) return false;
                     launch(pb.ctx, s, [&](auto& dev) {
                       const auto* needles = static_cast<const K*>(on_shard.data(s));
                       for (std::size_t i = 0; i < pb.by_shard[s].size(); ++i) {
                         const auto& run = pb.runs[pb.by_shard[s][i]];
                         primitive::bounds(dev, run.keys, run.size, needles, queries, slot + per_run * i, pb.comp, false);
                         primitive::bounds(dev, run.keys, run.size, needles, queries, slot + per_run * i + queries,
                                           pb.comp, true);
                       }
                     });
                     return true;
                   },
                   seen_by::host, [&] { upload_to_run_shards(pb, keys, on_shard); })
                   .host;
  out.run_slot.assign(pb.runs.size(), 0);
  for (std::size_t s = 0; s < shards; ++s)
    for (std::size_t i = 0; i < pb.by_shard[s].size(); ++i)
      out.run_slot[pb.by_shard[s][i]] = s * (per_run * most_runs) + per_run * i;
  return out;
}

/// A target that no candidate settles: its boundary lies strictly between two neighbouring
/// candidates, in the run elements [lo[j], hi[j]) of each run j.
struct window {
  std::size_t target;                // index into the open targets
  std::vector<std::size_t> lo, hi;  // per run
  std::size_t before;                // elements before the window
};

/// Settles every open target whose boundary key is a queried candidate (everything before
/// it, then its ties in run order), and returns a window for each of the others.
template <class K, class V, class Comp>
std::vector<window> settle_at_candidates(problem<K, V, Comp>& pb, const std::vector<std::size_t>& open,
                                         const query_plan& plan, const exact_ranks& ranks, std::size_t candidate_count) {
  const std::size_t run_count = pb.runs.size();
  std::vector<window> windows;
  for (std::size_t o = 0; o < open.size(); ++o) {
    const std::size_t rank = pb.targets[open[o]];
    bool settled = false;
    std::size_t below = candidate_count, above = candidate_count;  // none yet
    for (auto i : plan.chosen[o]) {
      if (settled) break;
      std::size_t before = 0, not_after = 0;
      for (std::size_t j = 0; j < run_count; ++j) before += ranks.before(j, i), not_after += ranks.not_after(j, i);
      if (before <= rank && rank < not_after) {
        std::size_t ties_left = rank - before;
        for (std::size_t j = 0; j < run_count; ++j) {
          const std::size_t ties = std::min(ranks.not_after(j, i) - ranks.before(j, i), ties_left);
          pb.split[open[o]][j] = ranks.before(j, i) + ties;
          ties_left -= ties;
        }
        settled = true;
      } else if (not_after <= rank) {
        below = i;
      } else if (before > rank && above == candidate_count) {
        above = i;
      }
    }
    if (settled) continue;
    window w{o, std::vector<std::size_t>(run_count), std::vector<std::size_t>(run_count), 0};
    for (std::size_t j = 0; j < run_count; ++j) {
      w.lo[j] = below == candidate_count ? 0 : ranks.not_after(j, below);
      w.hi[j] = above == candidate_count ? pb.runs[j].size : ranks.before(j, above);
      w.before += w.lo[j];
    }
    windows.push_back(std::move(w));
  }
  return windows;
}

/// Phase d: gathers the windows' elements on the host (one host sync) and ranks them there:
/// the first (target - before) of them in (key, run, position) order go before the boundary.
template <class K, class V, class Comp>
void settle_in_windows(problem<K, V, Comp>& pb, const std::vector<std::size_t>& open, const std::vector<window>& windows) {
  const std::size_t run_count = pb.runs.size();
  std::vector<std::size_t> slot_offset(windows.size() * run_count), shard_need(pb.ctx.size(), 0);
  for (std::size_t w = 0; w < windows.size(); ++w)
    for (std::size_t j = 0; j < run_count; ++j) {
      slot_offset[w * run_count + j] = shard_need[pb.runs[j].shard];
      shard_need[pb.runs[j].shard] += windows[w].hi[j] - windows[w].lo[j];
    }
  const std::size_t per_shard = *std::max_element(shard_need.begin(), shard_need.end());
  const auto elements = all_gather<K>(
                            pb.ctx, per_shard,
                            [&](std::size_t s, K* slot) {
                              if (shard_need[s] == 0) return false;
                              if (!pb.ctx.local(s)) return true;  // its rank copies them
                              std::vector<device::copy_item> copies;  // one batch: one task per shard
                              for (std::size_t w = 0; w < windows.size(); ++w)
                                for (auto j : pb.by_shard[s]) {
                                  const std::size_t length = windows[w].hi[j] - windows[w].lo[j];
                                  if (length != 0)
                                    copies.push_back({slot + slot_offset[w * run_count + j], nullptr,
                                                      pb.runs[j].keys + windows[w].lo[j], length * sizeof(K)});
                                }
                              pb.ctx.dev(s).copy_batch(copies);
                              return true;
                            },
                            seen_by::host)
                            .host;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    const auto& win = windows[w];
    std::vector<std::pair<std::size_t, const K*>> items;  // (run, element)
    for (std::size_t j = 0; j < run_count; ++j) {
      const K* first = elements.data() + pb.runs[j].shard * per_shard + slot_offset[w * run_count + j];
      for (std::size_t i = 0; i < win.hi[j] - win.lo[j]; ++i) items.emplace_back(j, first + i);
    }
    const std::size_t take = pb.targets[open[win.target]] - win.before;
    auto& split = pb.split[open[win.target]];
    for (std::size_t j = 0; j < run_count; ++j) split[j] = win.lo[j];
    count_first(items, take, pb.comp, split);
  }
}

}  // namespace splitting

/// Adds a source buffer to an exchange's table: one run's elements, on `shard` of `g`.
template <class T>
void add_run_source(transport::buffers& where, std::size_t g, std::size_t shard, const T* data) {
  where.src.emplace_back(g, nullptr);
  where.src.back()[shard] = data;
  where.src_element_bytes.push_back(sizeof(T));
}

/// Adds a destination buffer to an exchange's table: every shard's segment of `buffer`.
template <class T>
void add_destination(transport::buffers& where, segmented_buffer<T>& buffer) {
  const std::vector<T*> data = buffer.pointers();
  where.dst.emplace_back(data.begin(), data.end());
  where.dst_element_bytes.push_back(sizeof(T));
}

/// For each target rank in `targets` (ascending, each in [0, N] where N is the runs' total),
/// the number of elements of each run that go before it in the stable merged order (see the
/// file comment): the phases above, in order. Two host syncs, at most four; `prepare()` is queued
/// inside the first (the local sorts the runs come from), after which `timer` moves on to the
/// phase `splitters`.
template <class K, class V, class Comp, class Prepare>
std::vector<std::vector<std::size_t>> split_runs(context_impl& ctx, const std::vector<sorted_run<K, V>>& runs,
                                                 const std::vector<std::size_t>& targets, Comp comp,
                                                 Prepare&& prepare, phase_timer& timer, const std::string& splitters) {
  using namespace splitting;
  problem<K, V, Comp> pb{ctx, runs, targets, comp, runs_by_shard(runs, ctx.size()),
                         std::vector<std::vector<std::size_t>>(targets.size(), std::vector<std::size_t>(runs.size(), 0))};
  const auto open = settle_trivial(pb);
  if (open.empty()) {
    run_and_wait(ctx, prepare);
    timer.next(splitters);
    return std::move(pb.split);
  }
  const auto samples = gather_samples(pb, prepare);  // a
  timer.next(splitters);
  const auto cands = bound_candidates(pb, samples);  // b
  const auto left = settle_in_slices(pb, cands, open);  // b
  if (left.empty()) return std::move(pb.split);
  const auto plan = plan_queries(cands, targets, left);  // c
  const auto ranks = rank_queries(pb, cands, plan);
  const auto windows = settle_at_candidates(pb, left, plan, ranks, cands.keys.size());
  if (!windows.empty()) settle_in_windows(pb, left, windows);  // d
  return std::move(pb.split);
}

/// The memory merge_runs needs on every local shard beyond its inputs and outputs, checked
/// before it starts (require_memory): the most of the local phase (the sort of
/// `local_sort_sizes[s]` elements, when the caller sorts its runs first) and the merge phase
/// (the received elements and a spare buffer as large, and the merge's temporary storage).
template <class K, class V, class Comp>
void require_merge_memory(context_impl& ctx, const std::string& call, const std::vector<std::size_t>& local_sort_sizes,
                          const std::vector<std::size_t>& out_sizes, Comp comp) {
  constexpr std::size_t element = sizeof(K) + (std::is_void_v<V> ? 0 : sizeof(std::conditional_t<std::is_void_v<V>, char, V>));
  std::vector<std::uint64_t> need(ctx.size(), 0);
  for (auto s : ctx.local_shards()) {
    std::size_t local = 0, merge = 0;
    with_device(ctx, s, [&](auto& dev) {
      if (!local_sort_sizes.empty())
        primitive::sort_scratch_bytes(dev, static_cast<const K*>(nullptr), static_cast<const V*>(nullptr),
                                      local_sort_sizes[s], comp, local);
      if (out_sizes[s] != 0)
        primitive::merge_scratch_bytes(dev, static_cast<const K*>(nullptr), static_cast<const V*>(nullptr),
                                       out_sizes[s], comp, merge);
    });
    need[s] = std::max<std::uint64_t>(local, 2 * static_cast<std::uint64_t>(out_sizes[s]) * element + merge);
  }
  require_memory(ctx, call, "scratch: the received elements, the merge's buffer and temporary storage", need);
}

/// Where merge_runs left each shard's merged segment: in buffers of its own, which the caller
/// then takes into the output vector (commit), so that a merge that fails on any shard leaves
/// every output (and every input, for a sort in place) as it was.
template <class K, class V>
struct merged_runs {
  using VV = std::conditional_t<std::is_void_v<V>, char, V>;
  /// [0]: the received runs, [1]: the spare buffer the merge went back and forth with.
  segmented_buffer<K> keys[2];
  segmented_buffer<VV> values[2];
  /// Per shard: 0, its output is one run of its own already in the output's memory (nothing
  /// to take); 1 or 2, its output is in keys[where - 1] (and values[where - 1]).
  std::vector<char> where;
};

/// Merges `runs` (sorted, in stability order) into segments of sizes out_sizes[d], one per
/// shard d (file comment), in buffers of its own (merged_runs: the caller commits them into
/// its output, once the merge succeeded on every shard). `runs_are_output`: run d is the
/// output's segment d (a sort in place), so that a shard whose output is all of its own run
/// needs no merge (decided alike on every rank). `prepare()` is queued before anything reads the runs (the local
/// sorts: `local_sort_sizes[s]` elements on shard s, or empty when prepare sorts nothing).
/// Before anything runs, the memory every shard will need is checked (require_merge_memory):
/// out_of_memory then, with nothing changed. Blocks until done. The phases' wall times go to
/// stats() as "<algorithm>.local" (prepare and the samples), "<algorithm>.splitters" and
/// "<algorithm>.exchange_merge".
template <class K, class V, class Comp, class Prepare>
merged_runs<K, V> merge_runs(context_impl& ctx, const std::vector<sorted_run<K, V>>& runs,
                             const std::vector<std::size_t>& out_sizes, bool runs_are_output, Comp comp, Prepare&& prepare,
                             const std::string& algorithm, const std::vector<std::size_t>& local_sort_sizes = {}) {
  constexpr bool pairs = !std::is_void_v<V>;
  const std::size_t g = ctx.size(), r_count = runs.size();
  require_merge_memory<K, V>(ctx, "shard::" + algorithm, local_sort_sizes, out_sizes, comp);
  merged_runs<K, V> result;
  result.where.assign(g, 0);
  if (r_count == 0) return result;
  const auto out_offsets = offsets_of(out_sizes);
  std::vector<std::size_t> targets(out_offsets.begin() + 1, out_offsets.end());
  phase_timer timer(ctx, algorithm + ".local");
  const auto split = split_runs(ctx, runs, targets, comp, prepare, timer, algorithm + ".splitters");
  timer.next(algorithm + ".exchange_merge");
  // part[d][j]: run j's elements [from, to) that go to shard d.
  auto from = [&](std::size_t d, std::size_t j) { return d == 0 ? std::size_t{0} : split[d - 1][j]; };
  auto to = [&](std::size_t d, std::size_t j) { return d + 1 == g ? runs[j].size : split[d][j]; };
  // A shard whose whole output is one run of its own, already in place (one shard, or input
  // already in order), neither receives nor merges.
  std::vector<std::size_t> merge_sizes(g, 0);
  for (std::size_t d = 0; d < g; ++d) {
    std::size_t sources = 0, only = 0;
    for (std::size_t j = 0; j < r_count; ++j)
      if (to(d, j) != from(d, j)) ++sources, only = j;
    const bool same = runs_are_output && sources == 1 && runs[only].shard == d && from(d, only) == 0 &&
                      to(d, only) == out_sizes[d];
    merge_sizes[d] = same ? 0 : out_sizes[d];
  }
  std::vector<std::vector<std::size_t>> recv_offsets(g);  // per shard: offsets of the non-empty received runs
  std::vector<transfer> key_moves, value_moves;
  std::vector<char> in_spare(g, 0);
  auto& recv_keys = result.keys[0];
  auto& recv_values = result.values[0];
  run_and_wait(ctx, [&] {
    for (int b = 0; b < 2; ++b) {
      result.keys[b] = segmented_buffer<K>(ctx, merge_sizes);
      if constexpr (pairs) result.values[b] = segmented_buffer<V>(ctx, merge_sizes);
    }
    std::vector<std::vector<std::size_t>> at(g, std::vector<std::size_t>(r_count, 0));
    for (std::size_t d = 0; d < g; ++d) {
      std::size_t here = 0;
      recv_offsets[d].push_back(0);
      for (std::size_t j = 0; j < r_count; ++j) {
        at[d][j] = here;
        const std::size_t len = to(d, j) - from(d, j);
        if (len == 0) continue;
        here += len;
        recv_offsets[d].push_back(here);
      }
    }
    // Rotated order: at step k, shard s sends to shard (s + k) mod G.
    for (std::size_t step = 0; step < g; ++step)
      for (std::size_t j = 0; j < r_count; ++j) {
        const std::size_t d = (runs[j].shard + step) % g;
        const std::size_t len = to(d, j) - from(d, j);
        if (len == 0 || merge_sizes[d] == 0) continue;
        // Source buffer j: run j's keys; r_count + j: its values. Destination 0: the received
        // keys; 1: the received values.
        key_moves.push_back(transfer{runs[j].shard, from(d, j), d, at[d][j], len, j, 0});
        if constexpr (pairs) value_moves.push_back(transfer{runs[j].shard, from(d, j), d, at[d][j], len, r_count + j, 1});
      }
    key_moves.insert(key_moves.end(), value_moves.begin(), value_moves.end());
    transport::buffers where;
    for (std::size_t j = 0; j < r_count; ++j) add_run_source(where, g, runs[j].shard, runs[j].keys);
    if constexpr (pairs) {
      for (std::size_t j = 0; j < r_count; ++j) add_run_source(where, g, runs[j].shard, runs[j].values);
    }
    add_destination(where, recv_keys);
    if constexpr (pairs) {
      add_destination(where, recv_values);
    }
    transport::exchange_planned(ctx, key_moves, where);
    for (std::size_t d = 0; d < g; ++d) {
      if (merge_sizes[d] == 0) continue;
      bool spare = false;
      launch(ctx, d, [&](auto& dev) {
        if constexpr (pairs)
          primitive::merge_runs_pairs(dev, recv_keys.data(d), recv_values.data(d), result.keys[1].data(d),
                                      result.values[1].data(d), recv_offsets[d], comp, spare);
        else
          primitive::merge_runs(dev, recv_keys.data(d), result.keys[1].data(d), recv_offsets[d], comp, spare);
      });
      in_spare[d] = spare;
    }
  });
  for (std::size_t d = 0; d < g; ++d)
    if (merge_sizes[d] != 0) result.where[d] = in_spare[d] ? 2 : 1;
  return result;
}

}  // namespace detail
SHARD_NAMESPACE_END
