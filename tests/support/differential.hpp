#pragma once
// The differential harness shared by tests/algorithms/differential_test.cpp (fixed seeds, or a
// seed from the environment) and tests/fuzz/algorithms_fuzz.cpp (libFuzzer's bytes): a random
// context (1..8 shards, host backend), a random vector (size, distribution, element type) and
// a random sequence of algorithm calls, each applied to a shard::vector and to a std::vector
// model; the first difference is reported.
#include <shard/shard.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace differential {

/// Where the choices come from: libFuzzer's bytes (then zeros), or a seeded generator.
class source {
 public:
  explicit source(std::uint64_t seed) : rng_(seed) {}
  source(const std::uint8_t* data, std::size_t size) : data_(data), size_(size), bytes_(true) {}
  /// A number in [0, bound).
  std::uint64_t below(std::uint64_t bound) {
    if (bound <= 1) return 0;
    if (!bytes_) return rng_() % bound;
    std::uint64_t x = 0;
    for (int i = 0; i < 4; ++i) x = (x << 8) | (at_ < size_ ? data_[at_++] : 0);
    return x % bound;
  }

 private:
  std::mt19937_64 rng_{0};
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0, at_ = 0;
  bool bytes_ = false;
};

template <class T>
struct is_odd {
  SHARD_HOST_DEVICE bool operator()(const T& x) const { return static_cast<long long>(x) % 2 != 0; }
};
template <class T>
struct by_magnitude {
  SHARD_HOST_DEVICE bool operator()(const T& a, const T& b) const {
    return (a < T(0) ? -a : a) < (b < T(0) ? -b : b);
  }
};

/// The result of one case: empty when the library and the model agree, else what differed.
using outcome = std::string;

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
shard::distribution pick_distribution(source& in, std::size_t n, std::size_t g) {
  switch (in.below(3)) {
    case 0: return shard::distribution::even();
    case 1: {
      std::vector<double> w(g);
      for (auto& x : w) x = static_cast<double>(in.below(4));
      w[in.below(g)] += 1;  // not all zero
      return shard::distribution::weighted(w);
    }
    default: {
      std::vector<std::size_t> sizes(g, 0);
      std::size_t left = n;
      for (std::size_t s = 0; s + 1 < g && left > 0; ++s) {
        sizes[s] = in.below(left + 1);
        left -= sizes[s];
      }
      sizes[g - 1] += left;
      return shard::distribution::explicit_sizes(sizes);
    }
  }
}

/// One case with element type T. Integers of unsigned type run every algorithm (their
/// wrap-around is defined); signed and floating-point types the order-insensitive ones.
template <class T>
outcome run_typed(source& in, std::size_t g, std::size_t n, std::string& log) {
  constexpr bool all_ops = std::is_unsigned_v<T>;
  shard::host_options options;  // with SHARD_TEST_CUDA_SEMANTICS=1, the GPU's freedoms of order
  const char* mode = std::getenv("SHARD_TEST_CUDA_SEMANTICS");
  options.cuda_semantics = mode != nullptr && std::string(mode) == "1";
  const char* threads = std::getenv("SHARD_TEST_HOST_THREADS");  // a pool of n threads (test_support.hpp)
  if (threads != nullptr && *threads != '\0') options.threads = static_cast<std::size_t>(std::stoull(threads));
  auto ctx = shard::context::host(g, options);
  std::vector<T> model(n);
  const std::uint64_t range = 1 + in.below(1000);
  for (auto& x : model) {
    x = static_cast<T>(in.below(range));
    if constexpr (std::is_signed_v<T>) x = static_cast<T>(x - static_cast<T>(range / 2));
    if constexpr (std::is_floating_point_v<T>) x = x / T(4);
  }
  shard::vector<T> v(ctx, model, pick_distribution<T>(in, n, g));
  const std::size_t steps = 1 + in.below(8);
  for (std::size_t step = 0; step < steps; ++step) {
    const std::uint64_t op = in.below(all_ops ? 12 : 9);
    log += " op" + std::to_string(op);
    switch (op) {
      case 0:
        shard::sort(v);
        std::stable_sort(model.begin(), model.end());
        break;
      case 1:
        shard::sort(v, shard::greater<>{});
        std::stable_sort(model.begin(), model.end(), std::greater<T>{});
        break;
      case 2:
        shard::stable_sort(v, by_magnitude<T>{});
        std::stable_sort(model.begin(), model.end(), by_magnitude<T>{});
        break;
      case 3: {
        shard::vector<T> out(ctx, 0);
        shard::copy_if(v, out, is_odd<T>{});
        v = std::move(out);
        std::vector<T> kept;
        std::copy_if(model.begin(), model.end(), std::back_inserter(kept), is_odd<T>{});
        model = kept;
        break;
      }
      case 4:
        shard::remove_if(v, is_odd<T>{});
        model.erase(std::remove_if(model.begin(), model.end(), is_odd<T>{}), model.end());
        break;
      case 5:
        shard::unique(v);
        model.erase(std::unique(model.begin(), model.end()), model.end());
        break;
      case 6: {  // merge the sorted vector with a sorted copy of itself, laid out afresh
        shard::sort(v);
        std::stable_sort(model.begin(), model.end());
        shard::vector<T> b(v, pick_distribution<T>(in, v.size(), g));
        shard::vector<T> out(ctx, 2 * v.size(), pick_distribution<T>(in, 2 * v.size(), g));
        shard::merge(v, b, out);
        v = std::move(out);
        std::vector<T> merged;
        std::merge(model.begin(), model.end(), model.begin(), model.end(), std::back_inserter(merged));
        model = merged;
        break;
      }
      case 7: {
        const bool want = std::is_sorted(model.begin(), model.end());
        if (shard::is_sorted(v) != want) return "is_sorted differs";
        break;
      }
      case 8: {  // searches in a sorted copy
        std::vector<T> sorted_model = model;
        std::sort(sorted_model.begin(), sorted_model.end());
        shard::vector<T> sorted(ctx, sorted_model, pick_distribution<T>(in, sorted_model.size(), g));
        shard::vector<std::size_t> result(ctx, v.size());
        shard::lower_bound(sorted, v, result);
        const auto got = result.to_host();
        for (std::size_t i = 0; i < model.size(); ++i)
          if (got[i] != static_cast<std::size_t>(std::lower_bound(sorted_model.begin(), sorted_model.end(), model[i]) -
                                                 sorted_model.begin()))
            return "lower_bound differs at " + std::to_string(i);
        break;
      }
      case 9: {
        shard::vector<T> out(ctx, v.size(), pick_distribution<T>(in, v.size(), g));
        shard::inclusive_scan(v, out);
        v = std::move(out);
        std::inclusive_scan(model.begin(), model.end(), model.begin());
        break;
      }
      case 10: {
        const T init = static_cast<T>(in.below(100));
        shard::exclusive_scan(v, v, init);
        std::exclusive_scan(model.begin(), model.end(), model.begin(), init);
        break;
      }
      case 11: {
        shard::vector<T> keys(v);
        shard::vector<T> values(ctx, v.size(), T(1)), ko(ctx, 0), vo(ctx, 0);
        shard::reduce_by_key(keys, values, ko, vo);
        std::vector<T> counts;
        for (std::size_t i = 0; i < model.size(); ++i) {
          if (i == 0 || model[i - 1] != model[i]) counts.push_back(0);
          ++counts.back();
        }
        if (!same(vo.to_host(), counts)) return "reduce_by_key differs";
        if (shard::reduce(v) != std::reduce(model.begin(), model.end())) return "reduce differs";
        break;
      }
    }
    if (!same(v.to_host(), model)) return "after op " + std::to_string(op) + " the vectors differ";
  }
  return {};
}

/// One case from `in`; `log` receives its description (shards, size, type, operations).
inline outcome run(source& in, std::string& log, std::size_t max_size) {
  const std::size_t g = 1 + in.below(8);
  const std::size_t n = in.below(max_size + 1);
  const std::uint64_t type = in.below(4);
  log = "shards " + std::to_string(g) + " size " + std::to_string(n) + " type " + std::to_string(type) + ":";
  switch (type) {
    case 0: return run_typed<std::uint32_t>(in, g, n, log);
    case 1: return run_typed<std::uint64_t>(in, g, n, log);
    case 2: return run_typed<std::int32_t>(in, g, n, log);
    default: return run_typed<double>(in, g, n, log);
  }
}

}  // namespace differential
