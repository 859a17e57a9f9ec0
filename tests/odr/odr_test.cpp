// Links two translation units that both include <shard/shard.hpp>. On the cuda preset one
// is compiled by g++ (host backend only) and one by nvcc (both backends): the configuration
// namespace must keep their inline functions apart, or the linker would pick one body for
// both and one of the results (or a later call) would be wrong.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstring>

#include "odr.hpp"

TEST_CASE("two translation units that include shard link and compute independently" * doctest::test_suite("odr")) {
  CHECK(odr_sum_a(100) == 2 * 5050);
  CHECK(odr_sum_b(100) == 3 * 5050);
  auto ctx = shard::context::host(2);  // a third user of the same headers
  shard::vector<int> v(ctx, 10, 1);
  CHECK(shard::reduce(v) == 10);
  const bool same_type = std::strcmp(odr_context_type_a(), odr_context_type_b()) == 0;
  // Same configuration: the same entity. Different configurations: different entities.
  CHECK(same_type == !odr_b_has_cuda());
}
