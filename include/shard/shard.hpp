#pragma once
/// @file shard.hpp
/// Umbrella header: the whole public API.
#include <shard/config.hpp>
#include <shard/balance.hpp>
#include <shard/calibration.hpp>
#include <shard/context.hpp>
#include <shard/copy.hpp>
#include <shard/copy_if.hpp>
#include <shard/count.hpp>
#include <shard/distribution.hpp>
#include <shard/error.hpp>
#include <shard/extrema.hpp>
#include <shard/fill.hpp>
#include <shard/for_each.hpp>
#include <shard/functional.hpp>
#include <shard/merge.hpp>
#include <shard/on_each_shard.hpp>
#include <shard/reduce.hpp>
#include <shard/reduce_by_key.hpp>
#include <shard/scan.hpp>
#include <shard/sort.hpp>
#include <shard/stats.hpp>
#include <shard/stencil.hpp>
#include <shard/topology.hpp>
#include <shard/transform.hpp>
#include <shard/transform_reduce.hpp>
#include <shard/vector.hpp>
