#pragma once
#include <shard/shard.hpp>

int odr_sum_a(int n);
int odr_sum_b(int n);
const char* odr_context_type_a();
const char* odr_context_type_b();
bool odr_b_has_cuda();
