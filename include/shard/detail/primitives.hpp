#pragma once
/// @file detail/primitives.hpp
/// Every backend's primitives, as overloads on the device type. A primitive a backend lacks
/// fails to compile with "no matching function for call to ... (<backend>::device&, ...)".
#include <shard/config.hpp>
#include <shard/backend/host/primitives.hpp>
#if SHARD_HAS_CUDA
#  include <shard/backend/cuda/primitives.hpp>
#endif
#include <shard/detail/skeleton/run.hpp>
