// heat2d: the 2-D heat equation on a grid distributed by rows over every shard of
// context::automatic(), time-stepped with shard::stencil (a halo exchange of one row with each
// neighbouring shard per step), checked bit for bit against the same run on one shard.
//
//   heat2d [width] [height] [steps]      (default 1024 x 1024, 200 steps)
#include <shard/shard.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// One explicit step of du/dt = a (u_xx + u_yy) with a dt / h^2 = 0.2: the new value from the
/// point and its four neighbours. Radius = the width: w[-width] and w[width] are the points
/// above and below; the left and right sides of the grid hold 0, as do the rows beyond the top
/// and bottom (boundary::constant(0)).
struct heat_step {
  int width;
  SHARD_HOST_DEVICE float operator()(const shard::window<float>& w) const {
    const auto x = static_cast<int>(w.index() % static_cast<std::size_t>(width));
    const float left = x > 0 ? w[-1] : 0.0f, right = x + 1 < width ? w[1] : 0.0f;
    return w[0] + 0.2f * (left + right + w[-width] + w[width] - 4.0f * w[0]);
  }
};

/// Runs `steps` steps from `initial` on `ctx`, the rows split evenly over its shards (whole
/// rows per shard); returns the final grid and the seconds the steps took.
std::vector<float> simulate(const shard::context& ctx, const std::vector<float>& initial, int width, int steps,
                            double* seconds) {
  const std::size_t height = initial.size() / static_cast<std::size_t>(width);
  auto rows = shard::distribution::even().sizes(height, ctx.size());
  for (auto& r : rows) r *= static_cast<std::size_t>(width);
  const auto layout = shard::distribution::explicit_sizes(rows);
  shard::vector<float> u(ctx, initial, layout), next(ctx, initial.size(), layout);
  const shard::stencil<float> step(u, static_cast<std::size_t>(width), shard::boundary<float>::constant(0.0f));
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < steps; ++t) {
    step.apply(u, next, heat_step{width});
    std::swap(u, next);
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return u.to_host();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int width = argc > 1 ? std::stoi(argv[1]) : 1024;
    const int height = argc > 2 ? std::stoi(argv[2]) : 1024;
    const int steps = argc > 3 ? std::stoi(argv[3]) : 200;
    if (width < 1 || height < 1 || steps < 0) throw std::invalid_argument("width and height >= 1, steps >= 0");
    // A hot square in a cold plate.
    std::vector<float> initial(static_cast<std::size_t>(width) * static_cast<std::size_t>(height), 0.0f);
    for (int y = height / 3; y < 2 * height / 3; ++y)
      for (int x = width / 3; x < 2 * width / 3; ++x)
        initial[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)] = 100.0f;

    shard::context ctx = shard::context::automatic();
    std::printf("heat2d: %d x %d grid, %d steps, rows over %zu shard(s) of the %s backend\n", width, height, steps,
                ctx.size(), ctx.kind() == shard::backend::cuda ? "CUDA" : "host");
    double seconds = 0, one_seconds = 0;
    ctx.reset_stats();
    const auto result = simulate(ctx, initial, width, steps, &seconds);
    const auto st = ctx.stats();
    // The reference: the same steps on one shard of the same backend (no halo crosses a shard
    // boundary; the same arithmetic, so the same bits).
    const auto one = ctx.kind() == shard::backend::cuda ? shard::context::cuda({ctx.device(0)}) : shard::context::host(1);
    const auto reference = simulate(one, initial, width, steps, &one_seconds);

    double heat = 0, heat0 = 0;
    for (float v : result) heat += v;
    for (float v : initial) heat0 += v;
    const bool same = result == reference;
    std::printf("%d steps in %.3f s (%.2f Gpoints/s); on one shard: %.3f s\n", steps, seconds,
                static_cast<double>(result.size()) * steps / seconds / 1e9, one_seconds);
    std::printf("halo bytes between shards per step: %.0f; host syncs per step: %.2f\n",
                static_cast<double>(st.bytes_between_shards()) / std::max(steps, 1),
                static_cast<double>(st.host_syncs) / std::max(steps, 1));
    std::printf("total heat %.1f (initially %.1f; what reaches the cold edges leaves)\n", heat, heat0);
    std::printf("%s\n", same ? "matches the one-shard run bit for bit" : "MISMATCH against the one-shard run");
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heat2d: %s\n", e.what());
    return 2;
  }
}
