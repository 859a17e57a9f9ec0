// group_by: total sales per product over millions of sales records, as a database's
// GROUP BY: shard::sort_by_key brings each product's records together, shard::reduce_by_key
// sums each run. Checked against a std::map built on the host.
//
//   group_by [records] [products]      (default 8M records, 100000 products)
#include <shard/shard.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  try {
    const std::size_t records = argc > 1 ? std::stoull(argv[1]) : std::size_t{8} << 20;
    const std::uint32_t products = argc > 2 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 100000;
    if (products == 0) throw std::invalid_argument("at least one product");
    shard::context ctx = shard::context::automatic();
    std::printf("group_by: %zu sales of %u products on %zu shard(s) of the %s backend\n", records, products, ctx.size(),
                ctx.kind() == shard::backend::cuda ? "CUDA" : "host");

    // The records: a product id (popular products sell more: a skewed choice) and an amount in cents.
    std::vector<std::uint32_t> product(records);
    std::vector<std::int64_t> cents(records);
    std::mt19937_64 rng(2026);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t i = 0; i < records; ++i) {
      const double u = unit(rng);
      product[i] = static_cast<std::uint32_t>(static_cast<double>(products) * u * u) % products;
      cents[i] = static_cast<std::int64_t>(rng() % 100000) + 1;
    }

    shard::vector<std::uint32_t> keys(ctx, product);
    shard::vector<std::int64_t> values(ctx, cents);
    shard::vector<std::uint32_t> groups(ctx, 0);
    shard::vector<std::int64_t> totals(ctx, 0);
    ctx.reset_stats();
    const auto start = std::chrono::steady_clock::now();
    shard::sort_by_key(keys, values);                                    // each product's sales together
    const std::size_t count = shard::reduce_by_key(keys, values, groups, totals);  // one total per product
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto st = ctx.stats();

    std::map<std::uint32_t, std::int64_t> expected;
    for (std::size_t i = 0; i < records; ++i) expected[product[i]] += cents[i];
    const auto g = groups.to_host();
    const auto t = totals.to_host();
    bool ok = count == expected.size() && g.size() == count && t.size() == count;
    std::size_t k = 0;
    for (auto it = expected.begin(); ok && it != expected.end(); ++it, ++k) ok = g[k] == it->first && t[k] == it->second;

    if (count != 0) {
      const auto [best, sales] = shard::max_element(totals);
      std::printf("%zu products sold; best seller: product %u, %.2f in sales\n", count, g[best],
                  static_cast<double>(sales) / 100);
    }
    std::printf("%.3f s (%.1f M records/s); %llu bytes between shards, %llu host syncs\n", seconds,
                static_cast<double>(records) / seconds / 1e6, static_cast<unsigned long long>(st.bytes_between_shards()),
                static_cast<unsigned long long>(st.host_syncs));
    std::printf("%s\n", ok ? "matches std::map" : "MISMATCH against std::map");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "group_by: %s\n", e.what());
    return 2;
  }
}
