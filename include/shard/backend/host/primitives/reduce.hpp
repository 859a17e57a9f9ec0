#pragma once
/// @file backend/host/primitives/reduce.hpp
/// The host backend's "reduce" family (detail/primitives/reduce.hpp): folded left to right.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

template <class T, class Op>
void reduce(device& d, const T* in, std::size_t n, T* out, T init, Op op) {
  d.launch([=] {
    T acc = init;
    for (std::size_t i = 0; i < n; ++i) acc = op(acc, in[i]);
    *out = acc;
  });
}

template <class U, class Rop, class F>
void transform_reduce_index(device& d, std::size_t n, U* out, U init, Rop rop, F f) {
  d.launch([=] {
    U acc = init;
    for (std::size_t i = 0; i < n; ++i) acc = rop(acc, f(i));
    *out = acc;
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
