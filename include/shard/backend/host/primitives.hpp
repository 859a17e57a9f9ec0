#pragma once
/// @file backend/host/primitives.hpp
/// The host backend's per-shard primitives: each one is a task on the emulated device's
/// queue that runs the plain sequential loop. Function objects are copied into the task.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace detail::primitive {

/// out[i] = op(in[i]), i < n
template <class In, class Out, class Op>
void transform(host_backend::device& d, const In* in, Out* out, std::size_t n, Op op) {
  d.launch([=] {
    for (std::size_t i = 0; i < n; ++i) out[i] = op(in[i]);
  });
}

/// out[i] = op(a[i], b[i]), i < n
template <class A, class B, class Out, class Op>
void transform(host_backend::device& d, const A* a, const B* b, Out* out, std::size_t n, Op op) {
  d.launch([=] {
    for (std::size_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
  });
}

/// f(p[i]) for i < n (f may modify the element)
template <class T, class F>
void for_each(host_backend::device& d, T* p, std::size_t n, F f) {
  d.launch([=] {
    for (std::size_t i = 0; i < n; ++i) f(p[i]);
  });
}

/// f(i) for i < n
template <class F>
void for_each_index(host_backend::device& d, std::size_t n, F f) {
  d.launch([=] {
    for (std::size_t i = 0; i < n; ++i) f(i);
  });
}

/// *out = init op in[0] op ... op in[n-1], folded left to right; `out` is shard memory.
template <class T, class Op>
void reduce(host_backend::device& d, const T* in, std::size_t n, T* out, T init, Op op) {
  d.launch([=] {
    T acc = init;
    for (std::size_t i = 0; i < n; ++i) acc = op(acc, in[i]);
    *out = acc;
  });
}

/// *out = init rop f(0) rop ... rop f(n-1), folded left to right; `out` is shard memory.
template <class U, class Rop, class F>
void transform_reduce_index(host_backend::device& d, std::size_t n, U* out, U init, Rop rop, F f) {
  d.launch([=] {
    U acc = init;
    for (std::size_t i = 0; i < n; ++i) acc = rop(acc, f(i));
    *out = acc;
  });
}

}  // namespace detail::primitive
SHARD_NAMESPACE_END
