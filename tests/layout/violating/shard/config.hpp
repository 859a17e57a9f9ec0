#pragma once
// A fixture of the include-order test.
