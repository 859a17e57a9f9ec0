// Uses shard only through its public contract and compares every result with std::.
#include <shard/shard.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <vector>

int main() {
  shard::context ctx = shard::context::automatic();
  std::vector<long> host(100003);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<long>((i * 7919) % 1000) - 500;
  shard::vector<long> v(ctx, std::span<const long>(host));
  shard::vector<long> w(ctx, host.size(), shard::distribution::weighted(std::vector<double>(ctx.size(), 1.0)));
  shard::transform(v, w, [] SHARD_HOST_DEVICE(long x) { return x * 2; });
  std::vector<long> twice(host.size());
  std::transform(host.begin(), host.end(), twice.begin(), [](long x) { return x * 2; });
  bool ok = w.to_host() == twice;
  ok &= shard::reduce(w) == std::accumulate(twice.begin(), twice.end(), 0L);
  ok &= shard::count_if(v, [] SHARD_HOST_DEVICE(long x) { return x > 0; }) ==
        static_cast<std::size_t>(std::count_if(host.begin(), host.end(), [](long x) { return x > 0; }));
  ok &= shard::max_element(v).index == static_cast<std::size_t>(std::max_element(host.begin(), host.end()) - host.begin());
  std::printf("consumer: %zu shard(s), %s backend: %s\n", ctx.size(),
              ctx.kind() == shard::backend::cuda ? "CUDA" : "host", ok ? "results match std::" : "MISMATCH");
  return ok ? 0 : 1;
}
