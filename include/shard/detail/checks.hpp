#pragma once
/// @file detail/checks.hpp
/// Argument checks shared by the algorithms; each names the algorithm and what was wrong.
#include <shard/config.hpp>
#include <shard/error.hpp>
#include <shard/vector.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Throws invalid_argument unless `a` and `b` belong to one context. In an SPMD context the
/// other ranks may have been called with vectors of one context: they learn of this rank's
/// failure at their call's first agreement on `a`'s context (every rank throws), instead of
/// waiting for this rank until the deadline.
template <class A, class B>
void require_same_context(const char* algorithm, const vector<A>& a, const vector<B>& b) {
  if (a.get_context() == b.get_context()) return;
  auto& ctx = a.get_context().impl();
  ctx.agree_on_failure(std::make_exception_ptr(
                           invalid_argument(std::string(algorithm) + ": the vectors belong to different contexts")),
                       ctx.step_shape(std::string(algorithm) + "'s argument checks"));
}

inline void require_same_size(const char* algorithm, const char* what_a, std::size_t a, const char* what_b,
                              std::size_t b) {
  if (a != b)
    throw invalid_argument(std::string(algorithm) + ": " + what_a + " has " + std::to_string(a) + " elements but " +
                           what_b + " has " + std::to_string(b));
}

/// `in` itself when it is laid out like `sizes`; otherwise a copy laid out like `sizes`, kept
/// in `storage` (the exchange moves exactly the elements that change shard and shows in
/// stats()).
template <class T>
const vector<T>& aligned_to(const vector<T>& in, const std::vector<std::size_t>& sizes,
                            std::optional<vector<T>>& storage) {
  if (in.segment_sizes() == sizes) return in;
  storage.emplace(in, distribution::explicit_sizes(sizes));
  return *storage;
}

}  // namespace detail
SHARD_NAMESPACE_END
