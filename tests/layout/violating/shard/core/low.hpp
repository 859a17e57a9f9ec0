#pragma once
// A fixture of the include-order test: core must not include a skeleton.
#include <shard/config.hpp>
#include <shard/skeleton/high.hpp>
