#pragma once
/// @file calibration.hpp
/// shard::calibration: how fast each shard of a context ran a short calibration (a transform
/// and a sort of a fixed size), the measure behind balanced layouts (<shard/balance.hpp>).
#include <shard/config.hpp>

#include <cstddef>
#include <ostream>
#include <vector>

SHARD_NAMESPACE_BEGIN

/// The calibration's figures per shard (context order). `speed` is what a balanced layout
/// weighs shards by: relative, the fastest shard 1.
struct calibration {
  std::vector<double> speed;
  /// Milliseconds of the calibration transform (float, x * a + b) and sort (uint32 keys) on each
  /// shard, the least of the repetitions, all shards running at once.
  std::vector<double> transform_ms;
  std::vector<double> sort_ms;
  std::size_t transform_elements = 0;
  std::size_t sort_elements = 0;
};

/// Prints one line per shard: speed, transform and sort milliseconds.
inline std::ostream& operator<<(std::ostream& os, const calibration& c) {
  os << "calibration (transform of " << c.transform_elements << " floats, sort of " << c.sort_elements
     << " uint32 keys):\n";
  for (std::size_t s = 0; s < c.speed.size(); ++s)
    os << "  shard " << s << ": speed " << c.speed[s] << ", transform " << c.transform_ms[s] << " ms, sort "
       << c.sort_ms[s] << " ms\n";
  return os;
}

SHARD_NAMESPACE_END
