#pragma once
/// @file backend/host/primitives/scan.hpp
/// The host backend's "scan" family (primitive/scan.hpp): one left-to-right pass, or
/// under host_options::cuda_semantics CUB's association per tile (gpu_order.hpp).
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/backend/host/gpu_order.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

template <class T, class Op>
void inclusive_scan(device& d, const T* in, T* out, std::size_t n, Op op, const T* carry) {
  if (d.cuda_semantics()) {
    d.launch([=] { tiled_inclusive_scan(in, out, n, op, carry); });
    return;
  }
  d.launch([=] {
    if (n == 0) return;
    T acc = carry != nullptr ? static_cast<T>(op(*carry, in[0])) : in[0];
    out[0] = acc;
    for (std::size_t i = 1; i < n; ++i) {
      acc = static_cast<T>(op(acc, in[i]));
      out[i] = acc;
    }
  });
}

template <class T, class Op>
void exclusive_scan(device& d, const T* in, T* out, std::size_t n, Op op, const T* init) {
  if (d.cuda_semantics()) {
    d.launch([=] { tiled_exclusive_scan(in, out, n, op, *init); });
    return;
  }
  d.launch([=] {
    T acc = *init;
    for (std::size_t i = 0; i < n; ++i) {
      const T x = in[i];  // read before the write: in may equal out
      out[i] = acc;
      acc = static_cast<T>(op(acc, x));
    }
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
