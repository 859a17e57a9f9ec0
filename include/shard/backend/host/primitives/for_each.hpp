#pragma once
/// @file backend/host/primitives/for_each.hpp
/// The host backend's "for" family (primitive/for_each.hpp): one task on the
/// emulated device's queue running the sequential loop (from the last index down under
/// host_options::cuda_semantics: cub::DeviceFor visits in no particular order). Function
/// objects are copied into it.
#include <shard/config.hpp>
#include <shard/backend/host/device.hpp>

#include <cstddef>

SHARD_NAMESPACE_BEGIN
namespace host_backend {

template <class T, class F>
void for_each(device& d, T* p, std::size_t n, F f) {
  const bool gpu = d.cuda_semantics();
  d.launch([=] {
    if (gpu) {
      for (std::size_t i = n; i-- > 0;) f(p[i]);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) f(p[i]);
  });
}

template <class F>
void for_each_index(device& d, std::size_t n, F f) {
  const bool gpu = d.cuda_semantics();
  d.launch([=] {
    if (gpu) {
      for (std::size_t i = n; i-- > 0;) f(i);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) f(i);
  });
}

}  // namespace host_backend
SHARD_NAMESPACE_END
