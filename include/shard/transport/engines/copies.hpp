#pragma once
/// @file transport/engines/copies.hpp
/// The copies engine of the collectives: shard-to-shard copies (transport/copy.hpp: local,
/// peer or staged per pair), issued in the rotated order of an exchange. Works on every
/// context and backend. Each collective takes its transfer list (detail::transfer: shard,
/// offset, count) and moves it with transport::exchange, which counts every byte.
#include <shard/config.hpp>
#include <shard/core/context_impl.hpp>
#include <shard/core/plan.hpp>
#include <shard/transport/copy.hpp>

#include <cstddef>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace transport::engines {

class copies {
 public:
  explicit copies(detail::context_impl& ctx) : ctx_(ctx) {}

  /// The transfers of `plan` (element counts and offsets into send[s] and recv[d]).
  template <class T>
  void all_to_all_v(const std::vector<detail::transfer>& plan, const std::vector<const T*>& send,
                    const std::vector<T*>& recv) {
    exchange(ctx_, plan, send, recv);
  }

  /// recv[d] block s = send[s] (count elements), except a shard's own block when it is in
  /// place (send[s] == recv[s] + s * count).
  template <class T>
  void all_gather(const std::vector<const T*>& send, std::size_t count, const std::vector<T*>& recv) {
    const std::size_t g = ctx_.size();
    std::vector<detail::transfer> plan;
    for (std::size_t s = 0; s < g; ++s)
      for (std::size_t d = 0; d < g; ++d)
        if (s != d || send[s] != recv[s] + s * count) plan.push_back(detail::transfer{s, 0, d, s * count, count});
    exchange(ctx_, plan, send, recv);
  }

  /// buffers[d] = buffers[root] (count elements) on every other shard.
  template <class T>
  void broadcast(std::size_t root, const std::vector<T*>& buffers, std::size_t count) {
    const std::size_t g = ctx_.size();
    std::vector<detail::transfer> plan;
    for (std::size_t d = 0; d < g; ++d)
      if (d != root) plan.push_back(detail::transfer{root, 0, d, 0, count});
    std::vector<const T*> src(g, nullptr);
    src[root] = buffers[root];
    exchange(ctx_, plan, src, buffers);
  }

 private:
  detail::context_impl& ctx_;
};

}  // namespace transport::engines
SHARD_NAMESPACE_END
