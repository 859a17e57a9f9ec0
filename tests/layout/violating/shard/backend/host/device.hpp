#pragma once
// A fixture of the include-order test: one backend must not include the other.
#include <shard/backend/cuda/device.hpp>
