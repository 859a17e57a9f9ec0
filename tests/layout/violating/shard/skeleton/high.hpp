#pragma once
// A fixture of the include-order test: a skeleton may include core.
#include <shard/core/low.hpp>
