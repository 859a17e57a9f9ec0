#pragma once
/// @file backend.hpp
/// shard::backend, the kind of device a context's shards are: emulated on the host, or CUDA
/// GPUs (context::kind()).
#include <shard/config.hpp>

SHARD_NAMESPACE_BEGIN

/// The backend a context runs on.
enum class backend { host, cuda };

SHARD_NAMESPACE_END
