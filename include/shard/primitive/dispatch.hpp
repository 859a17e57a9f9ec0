#pragma once
/// @file primitive/dispatch.hpp
/// How the skeletons reach a backend's primitive. Each backend defines its primitives as
/// overloads on its own device type, in its own namespace (`host_backend::transform(
/// host_backend::device&, ...)`, `cuda_backend::transform(cuda_backend::device&, ...)`);
/// `detail::primitive::transform(dev, ...)` finds them by argument-dependent lookup at the
/// point of instantiation, so the order of includes does not matter. A backend without the
/// primitive is a static_assert that names it ("transform: not implemented for this
/// backend"), not an overload-resolution dump or a silently chosen wrong overload.
#include <shard/config.hpp>
#include <shard/core/device.hpp>

#include <utility>

SHARD_NAMESPACE_BEGIN
namespace detail {
template <class>
inline constexpr bool always_false = false;
}  // namespace detail
SHARD_NAMESPACE_END

/// Declares the dispatcher detail::primitive::NAME. The deleted NAME() in the lookup
/// namespace stops ordinary lookup there (shard::transform, the public algorithm, must not
/// be a candidate), leaving the backends' overloads, found through the device's namespace.
#define SHARD_DETAIL_PRIMITIVE(name)                                                                    \
  namespace primitive_lookup_##name {                                                                   \
  void name() = delete;                                                                                 \
  template <class Device, class... Args>                                                                \
  concept available = requires(Device& d, Args&&... args) { name(d, static_cast<Args&&>(args)...); };   \
  template <class Device, class... Args>                                                                \
  void call(Device& d, Args&&... args) {                                                                \
    name(d, static_cast<Args&&>(args)...);                                                              \
  }                                                                                                     \
  }                                                                                                     \
  namespace primitive {                                                                                 \
  template <class Device, class... Args>                                                                \
  void name(Device& d, Args&&... args) {                                                                \
    last_primitive() = #name; /* what the device names the work (activity) */                          \
    if constexpr (primitive_lookup_##name::available<Device, Args...>)                                  \
      primitive_lookup_##name::call(d, static_cast<Args&&>(args)...);                                   \
    else                                                                                                \
      static_assert(always_false<Device>, #name ": not implemented for this backend (no overload " #name \
                                                "(device&, ...) in the backend's namespace takes these arguments)"); \
  }                                                                                                     \
  }
