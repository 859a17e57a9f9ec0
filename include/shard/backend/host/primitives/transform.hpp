#pragma once
/// @file backend/host/primitives/transform.hpp
/// The host backend's "transform" family (primitive/transform.hpp). Under
/// host_options::cuda_semantics, from the last index down and on copies of the elements
/// (cub::DeviceTransform specifies no order and no identity of the objects it passes).
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

template <class In, class Out, class Op>
void transform(device& d, const In* in, Out* out, std::size_t n, Op op) {
  const bool gpu = d.cuda_semantics();
  d.launch([=] {
    if (gpu) {
      for (std::size_t i = n; i-- > 0;) {
        const In x = in[i];  // not the element itself: DeviceTransform promises no addresses
        out[i] = op(x);
      }
      return;
    }
    for (std::size_t i = 0; i < n; ++i) out[i] = op(in[i]);
  });
}

template <class A, class B, class Out, class Op>
void transform(device& d, const A* a, const B* b, Out* out, std::size_t n, Op op) {
  const bool gpu = d.cuda_semantics();
  d.launch([=] {
    if (gpu) {
      for (std::size_t i = n; i-- > 0;) {
        const A x = a[i];
        const B y = b[i];
        out[i] = op(x, y);
      }
      return;
    }
    for (std::size_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
