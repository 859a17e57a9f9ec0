// option_pricing: Monte Carlo price of a European call option. Every shard simulates its own
// paths with the application's own kernel (shard::on_each_shard: a CUDA kernel on the shard's
// stream on GPUs, a loop on the shard's worker on emulated devices), from counter-based
// random numbers (path i's numbers depend on i alone, so the result is the same on any number
// of shards); shard::reduce sums the payoffs. Checked against the Black-Scholes formula.
//
//   option_pricing [paths]      (default 16M)
#include <shard/shard.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace {

struct market {
  double spot = 100, strike = 105, rate = 0.03, volatility = 0.25, years = 1.0;
};

/// A 64-bit counter-based generator (splitmix64's finaliser): the k-th number of path i is
/// mix(seed, i, k), no state carried between paths.
SHARD_HOST_DEVICE inline std::uint64_t mix(std::uint64_t seed, std::uint64_t i, std::uint64_t k) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (2 * i + k + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The discounted payoff of path i: a standard normal from two uniforms (Box-Muller), the
/// price at expiry under geometric Brownian motion, max(S_T - K, 0).
SHARD_HOST_DEVICE inline double payoff(const market& m, std::uint64_t i) {
  const double u1 = (static_cast<double>(mix(2026, i, 0) >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = (static_cast<double>(mix(2026, i, 1) >> 11) + 0.5) * 0x1.0p-53;
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  const double drift = (m.rate - 0.5 * m.volatility * m.volatility) * m.years;
  const double st = m.spot * std::exp(drift + m.volatility * std::sqrt(m.years) * z);
  const double pay = st > m.strike ? st - m.strike : 0.0;
  return std::exp(-m.rate * m.years) * pay;
}

#if SHARD_HAS_CUDA
/// The application's own kernel: the payoffs of the paths [first, first + n).
__global__ void payoffs_kernel(market m, double* out, std::size_t n, std::size_t first) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = payoff(m, first + i);
}
#endif

/// The standard normal distribution function.
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double black_scholes_call(const market& m) {
  const double sd = m.volatility * std::sqrt(m.years);
  const double d1 = (std::log(m.spot / m.strike) + (m.rate + 0.5 * m.volatility * m.volatility) * m.years) / sd;
  const double d2 = d1 - sd;
  return m.spot * normal_cdf(d1) - m.strike * std::exp(-m.rate * m.years) * normal_cdf(d2);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::size_t paths = argc > 1 ? std::stoull(argv[1]) : std::size_t{16} << 20;
    if (paths < 2) throw std::invalid_argument("at least 2 paths");
    const market m;
    shard::context ctx = shard::context::automatic();
    std::printf("option_pricing: %zu paths on %zu shard(s) of the %s backend\n", paths, ctx.size(),
                ctx.kind() == shard::backend::cuda ? "CUDA" : "host");

    shard::vector<double> pay(ctx, paths), squares(ctx, paths);
    const auto start = std::chrono::steady_clock::now();
    // The application's code on every shard at once, on its own segment of the paths.
    shard::on_each_shard(
        [&](const shard::shard_place& here, shard::segment<double> out) {
#if SHARD_HAS_CUDA
          if (here.stream != nullptr) {  // a GPU: the kernel on the shard's stream (its GPU is current)
            if (out.size == 0) return;
            const unsigned blocks = static_cast<unsigned>((out.size + 255) / 256);
            payoffs_kernel<<<blocks, 256, 0, here.stream>>>(m, out.data, out.size, out.offset);
            return;  // shard checks the launch (cudaGetLastError) and waits once for every shard
          }
#endif
          (void)here;
          for (std::size_t i = 0; i < out.size; ++i) out.data[i] = payoff(m, out.offset + i);
        },
        pay);
    shard::transform(pay, squares, [] SHARD_HOST_DEVICE(double x) { return x * x; });
    const double sum = shard::reduce(pay);
    const double sum_squares = shard::reduce(squares);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const double n = static_cast<double>(paths);
    const double price = sum / n;
    const double standard_error = std::sqrt((sum_squares / n - price * price) / (n - 1));
    const double exact = black_scholes_call(m);
    const bool ok = std::fabs(price - exact) <= 4 * standard_error;
    std::printf("Monte Carlo %.5f +- %.5f (one standard error), Black-Scholes %.5f: %.2f standard errors apart\n", price,
                standard_error, exact, std::fabs(price - exact) / standard_error);
    std::printf("%.3f s, %.1f M paths/s\n", seconds, n / seconds / 1e6);
    std::printf("%s\n", ok ? "within 4 standard errors of Black-Scholes" : "MISMATCH: more than 4 standard errors off");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "option_pricing: %s\n", e.what());
    return 2;
  }
}
