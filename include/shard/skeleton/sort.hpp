#pragma once
/// @file skeleton/sort.hpp
/// Merge skeleton, the heart of sort, stable_sort, sort_by_key and merge: R sorted runs (each
/// on one shard, in stability order) become one sorted sequence laid out by the output's
/// segment sizes, stable (equivalent keys keep run order, then position).
///
/// 1. Exact splitting (split_runs): for every output boundary T_d (a global rank), the
///    number p_j of run j's elements that go before it, so that sum_j p_j = T_d exactly,
///    whatever the keys (all equal, skewed, sorted...). Three gathers of metadata, each one
///    host sync, none of which grows with n:
///    a. regular samples, m per run (m ~ sqrt(2 x run size));
///    b. the exact lower and upper bound, in every run, of the few samples whose rank could
///       be a boundary's (bounded from the samples alone);
///    c. when a boundary falls strictly between two neighbouring samples, the run elements
///       between them (at most one sample gap per run), ranked on the host.
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
#include <shard/skeleton/metadata.hpp>
#include <shard/transport/copy.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
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
/// (m per run) against the window of step c (largest / m per run).
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
std::vector<std::vector<std::size_t>> runs_by_shard(const std::vector<Run>& runs, std::size_t g) {
  std::vector<std::vector<std::size_t>> out(g);
  for (std::size_t j = 0; j < runs.size(); ++j) out[runs[j].shard].push_back(j);
  return out;
}

}  // namespace splitting

/// For each target rank in `targets` (ascending, each in [0, N] where N is the runs' total),
/// the number of elements of each run that go before it in the stable merged order (see the
/// file comment). At most three host syncs; `prepare()` is queued inside the first (the local
/// sorts the runs come from), after which `timer` moves on to the phase `splitters`.
template <class K, class V, class Comp, class Prepare>
std::vector<std::vector<std::size_t>> split_runs(context_impl& ctx, const std::vector<sorted_run<K, V>>& runs,
                                                 const std::vector<std::size_t>& targets, Comp comp,
                                                 Prepare&& prepare, phase_timer& timer, const std::string& splitters) {
  using namespace splitting;
  const std::size_t g = ctx.size(), r_count = runs.size();
  std::size_t total = 0, largest = 0;
  for (const auto& r : runs) total += r.size, largest = std::max(largest, r.size);
  std::vector<std::vector<std::size_t>> split(targets.size(), std::vector<std::size_t>(r_count, 0));
  // Boundaries at 0 or N, and a single run, need no search.
  std::vector<std::size_t> open;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    if (targets[t] == 0) continue;
    if (targets[t] >= total) {
      for (std::size_t j = 0; j < r_count; ++j) split[t][j] = runs[j].size;
      continue;
    }
    if (r_count == 1) {
      split[t][0] = targets[t];
      continue;
    }
    open.push_back(t);
  }
  if (open.empty()) {
    run_and_wait(ctx, prepare);
    timer.next(splitters);
    return split;
  }
  const auto by_shard = runs_by_shard(runs, g);

  // a. Samples: m_j per run at positions i * size_j / m_j.
  const std::size_t m = samples_per_run(largest);
  std::vector<std::size_t> m_of(r_count), sample_at(r_count);
  std::size_t k = 0;
  for (std::size_t s = 0; s < g; ++s) {
    std::size_t here = 0;
    for (auto j : by_shard[s]) {
      m_of[j] = std::min(m, runs[j].size);
      sample_at[j] = here;
      here += m_of[j];
    }
    k = std::max(k, here);
  }
  const auto samples = all_gather<K>(
                           ctx, k,
                           [&](std::size_t s, K* slot) {
                             if (by_shard[s].empty()) return false;
                             launch(ctx, s, [&](auto& dev) {
                               for (auto j : by_shard[s])
                                 if (m_of[j] != 0)
                                   primitive::for_each_index(
                                       dev, m_of[j], sample_fn<K>{runs[j].keys, runs[j].size, m_of[j], slot + sample_at[j]});
                             });
                             return true;
                           },
                           seen_by::host, prepare)
                           .host;
  timer.next(splitters);
  std::vector<std::vector<K>> sample(r_count);
  std::vector<std::vector<std::size_t>> pos(r_count);
  for (std::size_t j = 0; j < r_count; ++j) {
    const K* first = samples.data() + runs[j].shard * k + sample_at[j];
    sample[j].assign(first, first + m_of[j]);
    for (std::size_t t = 0; t < m_of[j]; ++t) pos[j].push_back(t * runs[j].size / m_of[j]);
  }

  // b. Candidates: the distinct sample keys, sorted; for each, bounds on L (elements before
  //    it) and U (elements not after it) from the samples alone.
  std::vector<K> cand;
  for (const auto& sj : sample) cand.insert(cand.end(), sj.begin(), sj.end());
  std::stable_sort(cand.begin(), cand.end(), comp);
  cand.erase(std::unique(cand.begin(), cand.end(), [&](const K& a, const K& b) { return !comp(a, b) && !comp(b, a); }),
             cand.end());
  const std::size_t c_count = cand.size();
  std::vector<std::size_t> l_lo(c_count, 0), u_hi(c_count, 0);
  for (std::size_t c = 0; c < c_count; ++c)
    for (std::size_t j = 0; j < r_count; ++j) {
      const auto& sj = sample[j];
      const auto below = static_cast<std::size_t>(std::lower_bound(sj.begin(), sj.end(), cand[c], comp) - sj.begin());
      const auto not_after = static_cast<std::size_t>(std::upper_bound(sj.begin(), sj.end(), cand[c], comp) - sj.begin());
      l_lo[c] += lowest(pos[j], below);
      u_hi[c] += highest(pos[j], not_after, runs[j].size);
    }
  // For target r the answer lies among the candidates from the last with U <= r for sure to
  // the first with L > r for sure: query exactly those.
  std::vector<std::size_t> first_q(open.size()), last_q(open.size());
  std::vector<char> queried(c_count, 0);
  for (std::size_t o = 0; o < open.size(); ++o) {
    const std::size_t r = targets[open[o]];
    std::size_t a = 0, b = c_count - 1;
    for (std::size_t c = 0; c < c_count; ++c)
      if (u_hi[c] <= r) a = c;
    for (std::size_t c = c_count; c-- > 0;)
      if (l_lo[c] > r) b = c;
    if (b < a) b = a;
    first_q[o] = a;
    last_q[o] = b;
    for (std::size_t c = a; c <= b; ++c) queried[c] = 1;
  }
  std::vector<K> query;
  std::vector<std::size_t> query_of(c_count, 0);
  for (std::size_t c = 0; c < c_count; ++c)
    if (queried[c]) query_of[c] = query.size(), query.push_back(cand[c]);
  const std::size_t q = query.size();
  std::size_t most_runs = 0;
  for (const auto& b : by_shard) most_runs = std::max(most_runs, b.size());
  segmented_buffer<K> on_shard;
  const auto counts = all_gather<std::size_t>(
                          ctx, 2 * q * most_runs,
                          [&](std::size_t s, std::size_t* slot) {
                            if (by_shard[s].empty()) return false;
                            launch(ctx, s, [&](auto& dev) {
                              for (std::size_t i = 0; i < by_shard[s].size(); ++i) {
                                const auto& run = runs[by_shard[s][i]];
                                primitive::bounds(dev, run.keys, run.size, static_cast<const K*>(on_shard.data(s)), q,
                                                  slot + 2 * q * i, comp, false);
                                primitive::bounds(dev, run.keys, run.size, static_cast<const K*>(on_shard.data(s)), q,
                                                  slot + 2 * q * i + q, comp, true);
                              }
                            });
                            return true;
                          },
                          seen_by::host,
                          [&] {
                            std::vector<std::size_t> sizes(g, 0);
                            std::vector<std::vector<K>> values(g);
                            for (std::size_t s = 0; s < g; ++s)
                              if (!by_shard[s].empty()) sizes[s] = q, values[s] = query;
                            on_shard = segmented_buffer<K>(ctx, sizes);
                            upload(ctx, values, on_shard.pointers());
                          })
                          .host;
  // Exact L and U of every queried candidate, and per run.
  std::vector<std::size_t> run_slot(r_count);
  for (std::size_t s = 0; s < g; ++s)
    for (std::size_t i = 0; i < by_shard[s].size(); ++i) run_slot[by_shard[s][i]] = s * (2 * q * most_runs) + 2 * q * i;
  auto lt = [&](std::size_t j, std::size_t c) { return counts[run_slot[j] + query_of[c]]; };
  auto le = [&](std::size_t j, std::size_t c) { return counts[run_slot[j] + q + query_of[c]]; };
  struct window {
    std::size_t target;              // index into open
    std::vector<std::size_t> lo, hi;  // per run: elements [lo, hi) lie strictly between the candidates
    std::size_t before;               // elements before the window: U(c_a)
  };
  std::vector<window> windows;
  for (std::size_t o = 0; o < open.size(); ++o) {
    const std::size_t r = targets[open[o]];
    bool done = false;
    std::size_t a = c_count, b = c_count;  // none
    for (std::size_t c = first_q[o]; c <= last_q[o] && !done; ++c) {
      std::size_t l = 0, u = 0;
      for (std::size_t j = 0; j < r_count; ++j) l += lt(j, c), u += le(j, c);
      if (l <= r && r < u) {
        // The boundary key is cand[c]: everything before it, then its ties in run order.
        std::size_t remaining = r - l;
        for (std::size_t j = 0; j < r_count; ++j) {
          const std::size_t take = std::min(le(j, c) - lt(j, c), remaining);
          split[open[o]][j] = lt(j, c) + take;
          remaining -= take;
        }
        done = true;
      } else if (u <= r) {
        a = c;
      } else if (l > r && b == c_count) {
        b = c;
      }
    }
    if (done) continue;
    window w{o, std::vector<std::size_t>(r_count), std::vector<std::size_t>(r_count), 0};
    for (std::size_t j = 0; j < r_count; ++j) {
      w.lo[j] = a == c_count ? 0 : le(j, a);
      w.hi[j] = b == c_count ? runs[j].size : lt(j, b);
      w.before += w.lo[j];
    }
    windows.push_back(std::move(w));
  }
  if (windows.empty()) return split;

  // c. The windows' elements, ranked on the host: the first r - U(c_a) of them in (key, run,
  //    position) order go before the boundary.
  std::vector<std::size_t> win_at(windows.size() * r_count), shard_need(g, 0);
  for (std::size_t w = 0; w < windows.size(); ++w)
    for (std::size_t j = 0; j < r_count; ++j) {
      win_at[w * r_count + j] = shard_need[runs[j].shard];
      shard_need[runs[j].shard] += windows[w].hi[j] - windows[w].lo[j];
    }
  const std::size_t wk = *std::max_element(shard_need.begin(), shard_need.end());
  const auto elements = all_gather<K>(
                            ctx, wk,
                            [&](std::size_t s, K* slot) {
                              if (shard_need[s] == 0) return false;
                              for (std::size_t w = 0; w < windows.size(); ++w)
                                for (auto j : by_shard[s]) {
                                  const std::size_t len = windows[w].hi[j] - windows[w].lo[j];
                                  if (len != 0)
                                    ctx.dev(s).copy_local(slot + win_at[w * r_count + j], runs[j].keys + windows[w].lo[j],
                                                          len * sizeof(K));
                                }
                              return true;
                            },
                            seen_by::host)
                            .host;
  for (const auto& w : windows) {
    std::vector<std::pair<std::size_t, const K*>> items;  // (run, element), in run order
    for (std::size_t j = 0; j < r_count; ++j) {
      const K* first = elements.data() + runs[j].shard * wk + win_at[(&w - windows.data()) * r_count + j];
      for (std::size_t i = 0; i < w.hi[j] - w.lo[j]; ++i) items.emplace_back(j, first + i);
    }
    std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) { return comp(*x.second, *y.second); });
    const std::size_t take = targets[open[w.target]] - w.before;
    auto& p = split[open[w.target]];
    for (std::size_t j = 0; j < r_count; ++j) p[j] = w.lo[j];
    for (std::size_t i = 0; i < take; ++i) ++p[items[i].first];
  }
  return split;
}

/// Merges `runs` (sorted, in stability order) into out_keys[d] / out_values[d], sizes
/// out_sizes[d], on every shard d (file comment). `prepare()` is queued before anything reads
/// the runs (the local sorts). Out buffers may be the runs' own memory (a sort in place).
/// Blocks until done. The phases' wall times go to stats() as "<algorithm>.local" (prepare and
/// the samples), "<algorithm>.splitters" and "<algorithm>.exchange_merge".
template <class K, class V, class Comp, class Prepare>
void merge_runs(context_impl& ctx, const std::vector<sorted_run<K, V>>& runs, const std::vector<std::size_t>& out_sizes,
                const std::vector<K*>& out_keys, const std::vector<V*>& out_values, Comp comp, Prepare&& prepare,
                const std::string& algorithm) {
  constexpr bool pairs = !std::is_void_v<V>;
  const std::size_t g = ctx.size(), r_count = runs.size();
  if (r_count == 0) return;
  const auto out_offsets = offsets_of(out_sizes);
  std::vector<std::size_t> targets(out_offsets.begin() + 1, out_offsets.end());
  phase_timer timer(ctx, algorithm + ".local");
  const auto split = split_runs(ctx, runs, targets, comp, prepare, timer, algorithm + ".splitters");
  timer.next(algorithm + ".exchange_merge");
  // part[d][j]: run j's elements [from, to) that go to shard d.
  auto from = [&](std::size_t d, std::size_t j) { return d == 0 ? std::size_t{0} : split[d - 1][j]; };
  auto to = [&](std::size_t d, std::size_t j) { return d + 1 == g ? runs[j].size : split[d][j]; };
  std::vector<std::vector<std::size_t>> recv_offsets(g);  // per shard: offsets of the non-empty received runs
  std::vector<transport::byte_transfer> key_moves, value_moves;
  std::vector<char> in_place(g, 0);
  segmented_buffer<K> recv_keys;
  using VV = std::conditional_t<pairs, V, char>;
  segmented_buffer<VV> recv_values;
  run_and_wait(ctx, [&] {
    recv_keys = segmented_buffer<K>(ctx, out_sizes);
    if constexpr (pairs) recv_values = segmented_buffer<VV>(ctx, out_sizes);
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
    // A shard whose whole output is one run of its own, already in place (one shard, or
    // input already in order), neither receives nor merges.
    for (std::size_t d = 0; d < g; ++d) {
      std::size_t sources = 0, only = 0;
      for (std::size_t j = 0; j < r_count; ++j)
        if (to(d, j) != from(d, j)) ++sources, only = j;
      const auto& run = runs[only];
      bool same = sources == 1 && run.shard == d && run.keys + from(d, only) == out_keys[d];
      if constexpr (pairs) same = same && run.values + from(d, only) == out_values[d];
      in_place[d] = same;
    }
    // Rotated order: at step k, shard s sends to shard (s + k) mod G.
    for (std::size_t step = 0; step < g; ++step)
      for (std::size_t j = 0; j < r_count; ++j) {
        const std::size_t d = (runs[j].shard + step) % g;
        const std::size_t len = to(d, j) - from(d, j);
        if (len == 0 || in_place[d]) continue;
        key_moves.push_back({runs[j].shard, runs[j].keys + from(d, j), d, recv_keys.data(d) + at[d][j], len * sizeof(K)});
        if constexpr (pairs)
          value_moves.push_back(
              {runs[j].shard, runs[j].values + from(d, j), d, recv_values.data(d) + at[d][j], len * sizeof(V)});
      }
    key_moves.insert(key_moves.end(), value_moves.begin(), value_moves.end());
    transport::exchange_bytes(ctx, key_moves);
    for (std::size_t d = 0; d < g; ++d) {
      if (out_sizes[d] == 0 || in_place[d]) continue;
      launch(ctx, d, [&](auto& dev) {
        if constexpr (pairs)
          primitive::merge_runs_pairs(dev, static_cast<const K*>(recv_keys.data(d)), static_cast<const V*>(recv_values.data(d)),
                                      recv_offsets[d], out_keys[d], out_values[d], comp);
        else
          primitive::merge_runs(dev, static_cast<const K*>(recv_keys.data(d)), recv_offsets[d], out_keys[d], comp);
      });
    }
  });
}

}  // namespace detail
SHARD_NAMESPACE_END
