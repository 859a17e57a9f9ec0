#pragma once
/// @file distribution.hpp
/// How a vector's elements are split into one segment per shard.
#include <shard/config.hpp>
#include <shard/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// A rule that splits n elements over G shards into contiguous segments, in shard order.
///
/// - `even()`: sizes differ by at most one, the larger segments first (the default);
/// - `weighted(w)`: sizes proportional to w (one non-negative weight per shard), rounded by
///   the largest-remainder method so they sum to n exactly;
/// - `explicit_sizes(s)`: exactly these sizes (they must sum to n);
/// - `balanced(speed, capacity_bytes)`: sizes proportional to the shards' measured speeds, none
///   holding more than its free memory; shard::balanced(ctx) (<shard/balance.hpp>) makes one
///   from the context's calibration.
///
/// Two vectors are aligned when their resolved segment sizes are equal;
/// `vector::distribution()` returns the resolved sizes as an explicit distribution, so
/// `a.distribution() == b.distribution()` tests alignment.
class distribution {
 public:
  enum class kind { even, weighted, explicit_sizes, balanced };

  /// A capacity that sets no limit (a device that cannot tell its free memory).
  static constexpr std::uint64_t no_limit = UINT64_MAX;

  /// Sizes differ by at most one.
  static distribution even() { return distribution(kind::even, {}, {}); }
  /// Sizes proportional to `weights`; throws invalid_argument for a negative, non-finite or
  /// all-zero weight list (the shard count is checked when it is applied).
  static distribution weighted(std::vector<double> weights) {
    double sum = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (!(weights[i] >= 0) || !std::isfinite(weights[i]))
        throw invalid_argument("distribution::weighted: weight " + std::to_string(i) + " is " +
                               std::to_string(weights[i]) + ", not a finite non-negative number");
      sum += weights[i];
    }
    if (weights.empty() || sum <= 0)
      throw invalid_argument("distribution::weighted: the weights must not be empty or all zero");
    return distribution(kind::weighted, std::move(weights), {});
  }
  /// Exactly these segment sizes, one per shard.
  static distribution explicit_sizes(std::vector<std::size_t> sizes) {
    return distribution(kind::explicit_sizes, {}, std::move(sizes));
  }
  /// Sizes proportional to `speed` (one positive speed per shard, as weighted's weights), with
  /// shard s holding at most capacity_bytes[s] bytes of elements (no_limit: any number), so that
  /// shards of different speeds finish together and none is filled past its memory: shards
  /// whose share would pass their capacity get their capacity, the others share the rest by
  /// speed. Throws invalid_argument for speeds as weighted does, or capacities that are not one
  /// per speed. shard::balanced(ctx) derives both from a context.
  static distribution balanced(std::vector<double> speed, std::vector<std::uint64_t> capacity_bytes) {
    auto d = weighted(std::move(speed));
    if (capacity_bytes.size() != d.weights_.size())
      throw invalid_argument("distribution::balanced: " + std::to_string(capacity_bytes.size()) + " capacities for " +
                             std::to_string(d.weights_.size()) + " speeds");
    d.kind_ = kind::balanced;
    d.capacity_ = std::move(capacity_bytes);
    return d;
  }

  kind type() const noexcept { return kind_; }
  const std::vector<double>& weights() const noexcept { return weights_; }
  const std::vector<std::size_t>& explicit_segment_sizes() const noexcept { return sizes_; }
  /// A balanced distribution's capacities in bytes (empty for the other kinds).
  const std::vector<std::uint64_t>& capacities() const noexcept { return capacity_; }

  /// The segment sizes of n elements over `shards` shards; `element_bytes`, the size of an
  /// element, sets a balanced distribution's limits (0: they are not applied). Throws
  /// invalid_argument when the rule does not fit (weights or sizes not one per shard, sizes not
  /// summing to n), and out_of_memory when n elements exceed a balanced distribution's
  /// capacities together.
  std::vector<std::size_t> sizes(std::size_t n, std::size_t shards, std::size_t element_bytes = 0) const {
    std::vector<std::size_t> out(shards, 0);
    if (shards == 0) throw invalid_argument("distribution: a context has at least one shard");
    switch (kind_) {
      case kind::balanced:
        return balanced_sizes(n, shards, element_bytes);
      case kind::even:
        for (std::size_t s = 0; s < shards; ++s) out[s] = n / shards + (s < n % shards ? 1 : 0);
        return out;
      case kind::weighted: {
        if (weights_.size() != shards)
          throw invalid_argument("distribution::weighted: " + std::to_string(weights_.size()) +
                                 " weights for " + std::to_string(shards) + " shards");
        const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
        std::vector<std::pair<double, std::size_t>> remainder(shards);
        std::size_t given = 0;
        for (std::size_t s = 0; s < shards; ++s) {
          const double exact = static_cast<double>(n) * (weights_[s] / total);
          out[s] = static_cast<std::size_t>(std::floor(exact));
          if (out[s] > n) out[s] = n;
          given += out[s];
          remainder[s] = {exact - std::floor(exact), s};
        }
        // Largest remainder first; ties go to the lower shard, so the result is deterministic.
        std::stable_sort(remainder.begin(), remainder.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        for (std::size_t i = 0; given < n; i = (i + 1) % shards) {
          if (weights_[remainder[i].second] > 0 || total == 0) {
            ++out[remainder[i].second];
            ++given;
          }
        }
        while (given > n) {  // floating-point rounding can overshoot by a few elements
          for (std::size_t s = shards; s-- > 0 && given > n;)
            if (out[s] > 0) --out[s], --given;
        }
        return out;
      }
      case kind::explicit_sizes: {
        if (sizes_.size() != shards)
          throw invalid_argument("distribution::explicit_sizes: " + std::to_string(sizes_.size()) +
                                 " sizes for " + std::to_string(shards) + " shards");
        const std::size_t sum = std::accumulate(sizes_.begin(), sizes_.end(), std::size_t{0});
        if (sum != n)
          throw invalid_argument("distribution::explicit_sizes: the sizes sum to " + std::to_string(sum) +
                                 ", not to the vector's size " + std::to_string(n));
        return sizes_;
      }
    }
    return out;
  }

  friend bool operator==(const distribution& a, const distribution& b) {
    return a.kind_ == b.kind_ && a.weights_ == b.weights_ && a.sizes_ == b.sizes_ && a.capacity_ == b.capacity_;
  }

 private:
  /// Water-filling: the shards whose share by speed would pass their capacity are filled to it,
  /// the rest share what is left by speed (weighted's rounding), until every share fits.
  std::vector<std::size_t> balanced_sizes(std::size_t n, std::size_t shards, std::size_t element_bytes) const {
    if (weights_.size() != shards)
      throw invalid_argument("distribution::balanced: " + std::to_string(weights_.size()) + " speeds for " +
                             std::to_string(shards) + " shards");
    std::vector<std::size_t> cap(shards, SIZE_MAX);
    std::size_t room = 0;
    for (std::size_t s = 0; s < shards; ++s) {
      if (element_bytes != 0 && capacity_[s] != no_limit) cap[s] = static_cast<std::size_t>(capacity_[s] / element_bytes);
      room = cap[s] == SIZE_MAX || room > SIZE_MAX - cap[s] ? SIZE_MAX : room + cap[s];
    }
    if (room < n) {
      const std::uint64_t free_total = static_cast<std::uint64_t>(room) * element_bytes;
      throw out_of_memory(-1, -1, n * element_bytes, static_cast<std::size_t>(free_total),
                          "distribution::balanced (" + std::to_string(n) + " elements of " +
                              std::to_string(element_bytes) + " bytes over every shard's free memory)");
    }
    std::vector<std::size_t> out(shards, 0);
    std::vector<double> active = weights_;
    std::size_t left = n;
    for (;;) {
      double total = 0;
      for (double w : active) total += w;
      if (left == 0 || total <= 0) break;
      bool capped = false;
      for (std::size_t s = 0; s < shards; ++s)
        if (active[s] > 0 && static_cast<double>(left) * (active[s] / total) > static_cast<double>(cap[s])) {
          out[s] = cap[s];
          left -= cap[s];
          active[s] = 0;
          capped = true;
        }
      if (capped) continue;
      const auto rest = weighted(active).sizes(left, shards);
      for (std::size_t s = 0; s < shards; ++s) out[s] += rest[s];
      break;
    }
    return out;
  }

  distribution(kind k, std::vector<double> w, std::vector<std::size_t> s)
      : kind_(k), weights_(std::move(w)), sizes_(std::move(s)) {}
  kind kind_;
  std::vector<double> weights_;
  std::vector<std::size_t> sizes_;
  std::vector<std::uint64_t> capacity_;  // balanced: bytes per shard
};

SHARD_NAMESPACE_END
