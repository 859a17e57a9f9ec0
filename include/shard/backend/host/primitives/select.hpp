#pragma once
/// @file backend/host/primitives/select.hpp
/// The host backend's "select" family (primitive/select.hpp): one pass each; the
/// values of a run are folded left to right, or per tile under host_options::cuda_semantics
/// (CUB's reduce-by-key is a scan by key: gpu_order.hpp).
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>
#include <shard/backend/host/gpu_order.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

template <class T, class Flag>
void select_flagged(device& d, const T* in, std::size_t n, Flag flag, T* out, std::size_t* count) {
  d.launch([=] {
    std::size_t c = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (flag(i)) out[c++] = in[i];
    *count = c;
  });
}

template <class K, class V, class Op>
void reduce_by_key(device& d, const K* keys, const V* values, std::size_t n, K* keys_out, V* values_out,
                   std::size_t* count, Op op) {
  if (d.cuda_semantics()) {
    d.launch([=] {
      std::size_t c = 0;
      for (std::size_t first = 0; first < n;) {
        std::size_t last = first + 1;
        while (last < n && keys[last - 1] == keys[last]) ++last;
        keys_out[c] = keys[first];
        values_out[c++] = tiled_run_fold(values, first, last, op);
        first = last;
      }
      *count = c;
    });
    return;
  }
  d.launch([=] {
    std::size_t c = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i == 0 || !(keys[i - 1] == keys[i])) {
        keys_out[c] = keys[i];
        values_out[c++] = values[i];
      } else {
        values_out[c - 1] = static_cast<V>(op(values_out[c - 1], values[i]));
      }
    }
    *count = c;
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
