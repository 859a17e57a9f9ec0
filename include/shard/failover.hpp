#pragma once
/// @file failover.hpp
/// Carrying on after a device fault: a vector's surviving segments moved onto the context of
/// the surviving devices (context::survivors), with the index ranges that were lost, so that
/// only those are read again from their source (docs/failover.md).
#include <shard/config.hpp>
#include <shard/context.hpp>
#include <shard/core/run.hpp>
#include <shard/distribution.hpp>
#include <shard/error.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/vector.hpp>

#include <chrono>
#include <cstddef>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// Global indices [first, last) of a vector.
struct index_range {
  std::size_t first = 0, last = 0;
  std::size_t size() const noexcept { return last - first; }
  friend bool operator==(const index_range&, const index_range&) = default;
};

/// What salvage returns: the vector on the survivors' context, and the index ranges whose
/// elements were on faulted shards (ascending, disjoint; value-initialised in `data`).
template <class T>
struct salvaged {
  vector<T> data;
  std::vector<index_range> lost;
};

/// Moves `v` (a vector of a context some of whose shards faulted) onto `survivors`
/// (v.get_context().survivors()): every surviving segment is copied device to device, each
/// onto its own device's shard of the new context (no element crosses a link), the elements
/// of faulted shards are value-initialised and their index ranges returned in `lost`, and the
/// result is laid out by `d` (an exchange on the survivors; even by default). `v` is left
/// empty, its memory given back (on a faulted device as well as it can be). Each surviving
/// device holds a copy of its segment beside the original while it runs, so it needs that
/// much free memory. Moves 0 bytes between devices before the redistribution; two host
/// syncs, plus the redistribution's. Collective in an SPMD context. Throws invalid_argument
/// when `survivors` was not made by survivors() of v's context.
template <class T>
salvaged<T> salvage(vector<T>& v, const context& survivors, const distribution& d = distribution::even()) {
  auto& from = v.get_context().impl();
  auto& to = survivors.impl();
  if (!to.made_from(from))
    throw invalid_argument("shard::salvage: the context was not made by survivors() of the vector's context");
  const auto& kept = to.kept();
  const std::size_t g_old = v.num_segments(), g_new = kept.size();
  const auto& old_sizes = v.segment_sizes();
  std::vector<char> survived(g_old, 0);
  for (auto s : kept) survived[s] = 1;
  salvaged<T> out{vector<T>(survivors, 0), {}};
  for (std::size_t s = 0; s < g_old; ++s) {
    if (survived[s] || old_sizes[s] == 0) continue;
    const auto seg = v.segment(s);
    if (!out.lost.empty() && out.lost.back().last == seg.offset) out.lost.back().last = seg.offset + seg.size;
    else out.lost.push_back(index_range{seg.offset, seg.offset + seg.size});
  }
  // New shard i takes old shards [begin[i], begin[i + 1]): its survivor and the faulted shards
  // after it (the first also those before), so that the layout stays in index order.
  std::vector<std::size_t> begin(g_new + 1, g_old), sizes(g_new, 0);
  for (std::size_t i = 0; i < g_new; ++i) begin[i] = i == 0 ? 0 : kept[i];
  for (std::size_t i = 0; i < g_new; ++i)
    for (std::size_t s = begin[i]; s < begin[i + 1]; ++s) sizes[i] += old_sizes[s];
  auto w = detail::vector_access::uninitialized<T>(survivors, sizes, distribution::explicit_sizes(sizes));
  // The old queues of the survivors are idle after the failed call (it waited for every
  // shard); the wait is a bound, never a failure (their errors were reported by that call).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto s : from.local_shards())
    if (survived[s]) (void)from.dev(s).wait_until(deadline);
  detail::run_and_wait(to, [&] {
    for (auto i : to.local_shards()) {
      T* dst = w.segment(i).data;
      std::size_t at = 0;
      for (std::size_t s = begin[i]; s < begin[i + 1]; ++s) {
        if (old_sizes[s] == 0) continue;
        if (survived[s]) {
          // The survivor's segment, from its memory of the old context, on the same device.
          to.dev(i).copy_local(dst + at, v.segment(s).data, old_sizes[s] * sizeof(T));
          to.count_bytes(static_cast<int>(i), static_cast<int>(i), old_sizes[s] * sizeof(T));
        }
        at += old_sizes[s];
      }
    }
  });
  // The lost elements: value-initialised (a fill per faulted shard's part).
  detail::run_and_wait(to, [&] {
    for (auto i : to.local_shards()) {
      std::size_t at = 0;
      for (std::size_t s = begin[i]; s < begin[i + 1]; ++s) {
        if (!survived[s] && old_sizes[s] != 0) {
          std::vector<T*> first(g_new, nullptr);
          std::vector<std::size_t> count(g_new, 0);
          first[i] = w.segment(i).data + at;
          count[i] = old_sizes[s];
          detail::enqueue_fill(to, first, count, T{});
        }
        at += old_sizes[s];
      }
    }
  });
  { vector<T> released = std::move(v); }  // v is empty; the old memory goes back
  if (d.sizes(w.size(), g_new, sizeof(T)) != sizes) w.redistribute(d);
  out.data = std::move(w);
  return out;
}

SHARD_NAMESPACE_END
