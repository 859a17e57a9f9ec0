#pragma once
/// @file stencil.hpp
/// Stencils: out[i] = f(the window of radius r around in[i]), with the r elements beyond each
/// segment's ends exchanged with the neighbouring shards (a halo exchange). shard::stencil<T>
/// keeps its halo buffers for time-stepping loops; shard::transform_window is one call.
/// docs/interop.md, "Stencils".
#include <shard/config.hpp>
#include <shard/core/run.hpp>
#include <shard/detail/checks.hpp>
#include <shard/error.hpp>
#include <shard/functional.hpp>
#include <shard/primitive/for_each.hpp>
#include <shard/primitive/launch.hpp>
#include <shard/skeleton/elementwise.hpp>
#include <shard/skeleton/halo.hpp>
#include <shard/transport/copy.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// The elements around one element, as a stencil's callable sees them: w[k] for k in
/// [-radius, radius] is element index() + k (w[0] the element itself), past the global ends
/// as the boundary says. A trivially copyable view, usable in device code.
template <class T>
class window {
 public:
  SHARD_HOST_DEVICE window(const T* center, std::size_t index, int radius) : center_(center), index_(index), radius_(radius) {}
  /// The element k places away (|k| <= radius()).
  SHARD_HOST_DEVICE const T& operator[](int k) const { return center_[k]; }
  /// The global index of the window's centre.
  SHARD_HOST_DEVICE std::size_t index() const { return index_; }
  SHARD_HOST_DEVICE int radius() const { return radius_; }

 private:
  const T* center_;
  std::size_t index_;
  int radius_;
};

/// What a window holds beyond the global ends of the sequence: a constant (Dirichlet
/// boundary: every position before index 0 and past the last holds `value`), or the other end
/// (periodic: index -1 is the last element, index N the first).
template <class T>
struct boundary {
  enum class kind { constant, periodic };
  kind type = kind::constant;
  T value{};
  static boundary constant(const T& v) { return boundary{kind::constant, v}; }
  static boundary periodic() { return boundary{kind::periodic, T{}}; }
};

namespace detail {

/// out[i] = f(window centred on center0[i]) for i < n, the window's global index index0 + i.
/// In the device-checks region (config.hpp): a callable that cannot run on the device is a
/// compile error here, never a kernel that does nothing.
SHARD_DETAIL_DEVICE_CHECKS_BEGIN
template <class T, class U, class F>
struct window_fn {
  const T* center0;
  U* out;
  F f;
  std::size_t index0;
  int radius;
  SHARD_DETAIL_HOST_DEVICE void operator()(std::size_t i) const {
    out[i] = f(window<T>(center0 + i, index0 + i, radius));
  }
};
SHARD_DETAIL_DEVICE_CHECKS_END

}  // namespace detail

/// A halo exchange of radius r over one layout, kept for repeated steps (a time-stepping loop):
/// its halo buffers (at most 6r elements per shard), the constant boundary positions (written
/// once, at construction) and the plan of copies are made once. A step, apply(in, out, f),
/// writes out[i] = f(window of radius r around in[i]) on every shard at once:
/// 1. one exchange, on the shards' copy queues (a second stream per GPU), copies into every
///    shard's halo buffer the r elements beyond each end of its segment, from the shards that
///    hold them (2(G-1) small copies when every segment holds at least r elements; more when
///    shorter segments are spanned; two more when periodic), and the first and last 2r
///    elements of its own segment (device-local);
/// 2. beside those copies, every shard computes its interior (the elements whose windows lie
///    within its segment) from its own segment: no shard waits for a neighbour, or for a
///    copy, before the bulk of its work;
/// 3. every shard waits for its copy queue, then computes its first and last r elements from
///    the halo buffer.
/// One host sync. Between ranks of an SPMD context the halos cross after the interiors
/// (docs/interop.md, "Overlap"). Row-distributed 2-D grids of width W use r = W (whole rows,
/// as long as every segment holds whole rows). Collective in an SPMD context.
template <class T>
class stencil {
 public:
  /// For vectors laid out as `like` (its context and segment sizes). Throws invalid_argument
  /// for a radius above 2^30.
  stencil(const vector<T>& like, std::size_t radius, boundary<T> edge = boundary<T>::constant(T{}))
      : ctx_(like.get_context()), sizes_(like.segment_sizes()), edge_(edge) {
    if (radius > (std::size_t{1} << 30))
      throw invalid_argument("shard::stencil: radius " + std::to_string(radius) + " is above 2^30");
    plan_ = detail::plan_halo(sizes_, radius, edge.type == boundary<T>::kind::periodic);
    std::vector<std::size_t> extended;
    for (const auto& h : plan_.shards) extended.push_back(h.extended);
    auto& impl = ctx_.impl();
    halo_ = detail::segmented_buffer<T>(impl, extended);
    // The constant boundary positions, once (the exchanges never write them).
    bool constants = false;
    for (const auto& h : plan_.shards) constants = constants || !h.constants.empty();
    if (constants)
      detail::run_and_wait(impl, [&] {
      for (std::size_t s = 0; s < plan_.shards.size(); ++s)
        for (const auto& [offset, count] : plan_.shards[s].constants)
          detail::launch(impl, s, [&](auto& dev) {
            detail::primitive::for_each_index(dev, count, detail::fill_fn<T>{halo_.data(s) + offset, edge.value});
          });
    });
  }

  std::size_t radius() const noexcept { return plan_.radius; }
  const std::vector<std::size_t>& segment_sizes() const noexcept { return sizes_; }

  /// One step: out[i] = f(window of radius() around in[i]) for every i. `in` and `out` must be
  /// two vectors laid out as the stencil (its context and segment sizes): invalid_argument
  /// otherwise, or when they are the same vector or share memory. `f` takes a window<T> and
  /// returns what converts to U; it must be callable on the device in a CUDA translation unit.
  template <class U, class F>
  void apply(const vector<T>& in, vector<U>& out, F f) const {
    check("in", in);
    check("out", out);
    const auto src = detail::pointers(in);
    const auto dst = detail::pointers(out);
    for (std::size_t s = 0; s < sizes_.size(); ++s)
      if (sizes_[s] != 0 && static_cast<const void*>(src[s]) == static_cast<const void*>(dst[s]) && ctx_.is_local(s))
        throw invalid_argument("shard::stencil::apply: `in` and `out` share memory (the windows read `in` while `out` "
                               "is written): give two vectors");
    const detail::call_scope scope(ctx_.impl(), "shard::stencil::apply", out);
    auto& impl = ctx_.impl();
    const auto fn = detail::callable(f);
    using Fn = std::decay_t<decltype(fn)>;
    const std::size_t r = plan_.radius;
    const int ri = static_cast<int>(r);
    const auto halo = halo_.pointers();
    detail::run_and_wait(impl, [&] {
      // 1. The halos, on the copy queues, beside what follows.
      std::optional<transport::beside_exchange> halos;
      if (r != 0)
        halos.emplace(impl, transport::rotated(plan_.transfers, impl.size()),
                      transport::buffers::of(std::vector<const T*>(src.begin(), src.end()), halo));
      // 2. Interiors, from the segments.
      detail::enqueue_segments(impl, sizes_, [&](auto& dev, std::size_t s) {
        const auto& h = plan_.shards[s];
        if (r == 0) {
          detail::primitive::for_each_index(dev, h.n, detail::window_fn<T, U, Fn>{src[s], dst[s], fn, h.offset, 0});
        } else if (h.split) {
          detail::primitive::for_each_index(
              dev, h.n - 2 * r, detail::window_fn<T, U, Fn>{src[s] + r, dst[s] + r, fn, h.offset + r, ri});
        }
      });
      if (r == 0) return;
      // 3. The edges, from the halo buffers, once each shard's copies are in.
      halos->join();
      detail::enqueue_segments(impl, sizes_, [&](auto& dev, std::size_t s) {
        const auto& h = plan_.shards[s];
        if (!h.split) {
          detail::primitive::for_each_index(dev, h.n, detail::window_fn<T, U, Fn>{halo[s] + r, dst[s], fn, h.offset, ri});
          return;
        }
        detail::primitive::for_each_index(dev, r, detail::window_fn<T, U, Fn>{halo[s] + r, dst[s], fn, h.offset, ri});
        detail::primitive::for_each_index(
            dev, r, detail::window_fn<T, U, Fn>{halo[s] + 4 * r, dst[s] + (h.n - r), fn, h.offset + h.n - r, ri});
      });
    });
  }

 private:
  template <class V>
  void check(const char* which, const vector<V>& v) const {
    if (!(v.get_context() == ctx_))
      throw invalid_argument(std::string("shard::stencil::apply: `") + which +
                             "` belongs to another context than the stencil");
    if (v.segment_sizes() != sizes_)
      throw invalid_argument(std::string("shard::stencil::apply: `") + which +
                             "` is not laid out as the stencil (its segment sizes differ; build the stencil from "
                             "a vector of this layout)");
  }

  context ctx_;
  std::vector<std::size_t> sizes_;
  boundary<T> edge_;
  detail::halo_plan plan_;
  detail::segmented_buffer<T> halo_;
};

/// out[i] = f(window of `radius` around in[i]) for every i, with `edge` beyond the global ends
/// (a stencil made for this one call: see stencil<T>). `in` is exchanged into out's layout
/// first when the two differ. Throws invalid_argument for different sizes or contexts, or when
/// `in` and `out` are the same vector.
template <class T, class U, class F>
void transform_window(const vector<T>& in, vector<U>& out, std::size_t radius, F f,
                      std::type_identity_t<boundary<T>> edge = boundary<T>::constant(T{})) {
  detail::require_same_context("shard::transform_window", in, out);
  detail::require_same_size("shard::transform_window", "the output", out.size(), "the input", in.size());
  if (static_cast<const void*>(&in) == static_cast<const void*>(&out))
    throw invalid_argument("shard::transform_window: `in` and `out` are the same vector (the windows read `in` while "
                           "`out` is written): give two vectors");
  std::optional<vector<T>> moved;
  const vector<T>& aligned = detail::aligned_to(in, out.segment_sizes(), moved);
  stencil<T>(aligned, radius, edge).apply(aligned, out, f);
}

SHARD_NAMESPACE_END
