// A backend without a primitive: calling it must fail with a static_assert that names the
// primitive (with SHARD_CONTROL the backend has it, and this compiles).
#include <shard/primitive/transform.hpp>

namespace other_backend {
struct device {};
#ifdef SHARD_CONTROL
template <class In, class Out, class Op>
void transform(device&, const In*, Out*, std::size_t, Op) {}
#endif
}  // namespace other_backend

void run(other_backend::device& d, const int* in, int* out) {
  shard::detail::primitive::transform(d, in, out, std::size_t{1}, [](int x) { return x; });
}
