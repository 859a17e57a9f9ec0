#pragma once
/// @file backend/host/primitives/transform.hpp
/// The host backend's "transform" family (primitive/transform.hpp): from the last
/// index down under host_options::cuda_semantics (cub::DeviceTransform's order is unspecified).
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
      for (std::size_t i = n; i-- > 0;) out[i] = op(in[i]);
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
      for (std::size_t i = n; i-- > 0;) out[i] = op(a[i], b[i]);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
