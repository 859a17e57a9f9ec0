#pragma once
// A fixture of the include-order test.
#include <shard/config.hpp>
