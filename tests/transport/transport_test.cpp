// The transport: shard-to-shard copies on every route, all-to-all(v), all-gather,
// broadcast, reduce-scatter and all-reduce. Every case checks the bytes that arrived and
// the bytes the stats counted, pair by pair.
#include "../support/test_support.hpp"

#include <shard/skeleton/collectives.hpp>
#include <shard/skeleton/metadata.hpp>
#include <shard/testing.hpp>
#include <shard/transport/collectives.hpp>
#include <shard/transport/host.hpp>
#if SHARD_HAS_NCCL
#  include <shard/nccl.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstring>
#include <numeric>
#include <sstream>

namespace {

using shard::detail::context_impl;
using shard::detail::device_buffer;

/// One buffer per shard, filled from host vectors; read back with to_host.
template <class T>
struct shard_buffers {
  std::vector<device_buffer<T>> owned;
  std::vector<T*> ptr;

  shard_buffers(context_impl& ctx, const std::vector<std::vector<T>>& init) : owned(ctx.size()), ptr(ctx.size()) {
    std::vector<shard::transport::host_block> blocks;
    for (std::size_t s = 0; s < ctx.size(); ++s) {
      owned[s] = device_buffer<T>(ctx, s, init[s].size());
      ptr[s] = owned[s].data();
      blocks.push_back({s, const_cast<T*>(init[s].data()), ptr[s], init[s].size() * sizeof(T)});
    }
    shard::transport::host_transfer(ctx, blocks, shard::transport::host_direction::from_host);
  }
  std::vector<const T*> as_const() const { return {ptr.begin(), ptr.end()}; }
  std::vector<std::vector<T>> to_host(context_impl& ctx) const {
    std::vector<std::vector<T>> out(owned.size());
    std::vector<shard::transport::host_block> blocks;
    for (std::size_t s = 0; s < owned.size(); ++s) {
      out[s].resize(owned[s].size());
      blocks.push_back({s, out[s].data(), ptr[s], out[s].size() * sizeof(T)});
    }
    shard::transport::host_transfer(ctx, blocks, shard::transport::host_direction::to_host);
    return out;
  }
};

/// Contexts of g shards: every backend, plus the host backend without peer access (every
/// shard-to-shard copy staged through host buffers).
std::vector<shard::context> all_routes(std::size_t g) {
  auto out = test::contexts(g);
  if (test::backend_enabled("host")) out.push_back(shard::context::host(g, shard::host_options{0, false}));
  return out;
}

std::string describe(const shard::context& ctx) {
  return test::name(ctx.kind()) + (ctx.size() > 1 && !ctx.peer_access(0, 1) ? " (staged)" : "");
}

/// body(ctx, impl) for every shard count and every route's context, the case captured.
template <class F>
void for_every_route(F&& body) {
  for (std::size_t g : test::shard_counts)
    for (auto& ctx : all_routes(g)) {
      const std::string backend = describe(ctx);
      CAPTURE(backend);
      CAPTURE(g);
      body(ctx, ctx.impl());
    }
}

/// The shard-to-shard part of the transfer matrix, diagonal included.
std::vector<std::uint64_t> shard_matrix(const shard::stats& st) {
  std::vector<std::uint64_t> m;
  for (std::size_t s = 0; s < st.shards; ++s)
    for (std::size_t d = 0; d < st.shards; ++d) m.push_back(st.bytes_moved(static_cast<int>(s), static_cast<int>(d)));
  return m;
}

std::vector<std::vector<std::uint32_t>> patterned(std::size_t g, const std::vector<std::size_t>& sizes) {
  std::vector<std::vector<std::uint32_t>> out(g);
  for (std::size_t s = 0; s < g; ++s) {
    out[s].resize(sizes[s]);
    for (std::size_t i = 0; i < sizes[s]; ++i) out[s][i] = static_cast<std::uint32_t>(s * 1000003 + i);
  }
  return out;
}

}  // namespace

TEST_CASE("transport: a copy between every pair of shards moves exactly its bytes, on every route") {
  // Sizes: empty, one element, and more than one staging chunk plus a tail.
  const std::size_t big = shard::detail::staging_pool::chunk_bytes / sizeof(std::uint32_t) + 17;
  for_every_route([&](shard::context& ctx, context_impl& impl) {
    const std::size_t g = ctx.size();
    for (std::size_t a = 0; a < g; ++a)
      for (std::size_t b = 0; b < g; ++b) {
        CAPTURE(a);
        CAPTURE(b);
        // The multi-chunk size on the pairs with shard 0 only, to keep the test quick.
        std::vector<std::size_t> counts{0, 1, 1000};
        if (a == 0 || b == 0) counts.push_back(big);
        for (std::size_t n : counts) {
          CAPTURE(n);
          std::vector<std::size_t> sizes(g, 0);
          sizes[a] = n;
          sizes[b] = std::max(sizes[b], n);
          auto init = patterned(g, sizes);
          if (a != b) std::fill(init[b].begin(), init[b].end(), 0xdeadbeefu);
          shard_buffers<std::uint32_t> buf(impl, init);
          ctx.reset_stats();
          shard::detail::run_and_wait(impl, [&] {
            shard::transport::copy(impl, a, buf.ptr[a], b, buf.ptr[b], n * sizeof(std::uint32_t));
          });
          const auto st = ctx.stats();
          auto expected = std::vector<std::uint64_t>(g * g, 0);
          expected[a * g + b] = n * sizeof(std::uint32_t);
          CHECK(shard_matrix(st) == expected);
          CHECK(st.bytes_to_host() == 0);
          CHECK(st.bytes_from_host() == 0);
          CHECK(st.host_syncs == 1);
          const auto back = buf.to_host(impl);
          CHECK(std::equal(back[b].begin(), back[b].begin() + static_cast<std::ptrdiff_t>(n), init[a].begin()));
        }
      }
  });
}

TEST_CASE("transport: staged copies pass through host buffers and are counted once, shard to shard") {
  auto ctx = shard::context::host(3, shard::host_options{0, false});
  CHECK(ctx.topology().link(0, 1).route() == std::string("staged"));
  CHECK(ctx.topology().link(1, 1).route() == std::string("local"));
  CHECK_FALSE(ctx.peer_access(0, 2));
  auto& impl = ctx.impl();
  // Many copies in flight at once through the 4 chunks: 3 pairs x 3 chunks each.
  const std::size_t n = 3 * shard::detail::staging_pool::chunk_bytes / sizeof(std::uint64_t) - 5;
  std::vector<std::vector<std::uint64_t>> init(3, std::vector<std::uint64_t>(n));
  for (std::size_t s = 0; s < 3; ++s) std::iota(init[s].begin(), init[s].end(), s << 40);
  shard_buffers<std::uint64_t> src(impl, init);
  shard_buffers<std::uint64_t> dst(impl, std::vector<std::vector<std::uint64_t>>(3, std::vector<std::uint64_t>(n, 0)));
  ctx.reset_stats();
  shard::detail::run_and_wait(impl, [&] {
    for (std::size_t s = 0; s < 3; ++s)
      shard::transport::copy(impl, s, src.ptr[s], (s + 1) % 3, dst.ptr[(s + 1) % 3], n * sizeof(std::uint64_t));
  });
  const auto back = dst.to_host(impl);
  for (std::size_t s = 0; s < 3; ++s) CHECK(back[(s + 1) % 3] == init[s]);
  CHECK(ctx.stats().bytes_between_shards() == 3 * n * sizeof(std::uint64_t));
}

TEST_CASE("transport: all_to_all_v delivers every block, zero-length and unequal ones included") {
  for_every_route([&](shard::context& ctx, context_impl& impl) {
    const std::size_t g = ctx.size();
    for (int pattern = 0; pattern < 3; ++pattern) {
      CAPTURE(pattern);
      std::mt19937_64 rng(g * 31 + static_cast<std::uint64_t>(pattern));
      std::vector<std::size_t> counts(g * g);
      for (auto& c : counts) {
        if (pattern == 0) c = 0;                                  // nothing at all
        else if (pattern == 1) c = rng() % 3 == 0 ? 0 : rng() % 50;  // sparse, unequal
        else c = 1000 + rng() % 5000;                             // dense, unequal
      }
      std::vector<std::size_t> send_sizes(g, 0), recv_sizes(g, 0);
      for (std::size_t s = 0; s < g; ++s)
        for (std::size_t d = 0; d < g; ++d) send_sizes[s] += counts[s * g + d], recv_sizes[d] += counts[s * g + d];
      const auto init = patterned(g, send_sizes);
      shard_buffers<std::uint32_t> send(impl, init);
      std::vector<std::vector<std::uint32_t>> zeros(g);
      for (std::size_t d = 0; d < g; ++d) zeros[d].assign(recv_sizes[d], 0);
      shard_buffers<std::uint32_t> recv(impl, zeros);
      ctx.reset_stats();
      shard::detail::run_and_wait(impl, [&] { shard::transport::all_to_all_v(impl, send.as_const(), counts, recv.ptr); });
      // Reference: receive buffer d = blocks for d from s = 0..G-1, in order.
      std::vector<std::vector<std::uint32_t>> expected(g);
      for (std::size_t s = 0; s < g; ++s) {
        std::size_t at = 0;
        for (std::size_t d = 0; d < g; ++d) {
          const auto n = counts[s * g + d];
          expected[d].insert(expected[d].end(), init[s].begin() + static_cast<std::ptrdiff_t>(at),
                             init[s].begin() + static_cast<std::ptrdiff_t>(at + n));
          at += n;
        }
      }
      CHECK(recv.to_host(impl) == expected);
      std::vector<std::uint64_t> bytes(g * g);
      for (std::size_t i = 0; i < g * g; ++i) bytes[i] = counts[i] * sizeof(std::uint32_t);
      ctx.reset_stats();
      shard::detail::run_and_wait(impl, [&] { shard::transport::all_to_all_v(impl, send.as_const(), counts, recv.ptr); });
      CHECK(shard_matrix(ctx.stats()) == bytes);
      CHECK(ctx.stats().bytes_to_host() == 0);
    }
  });
}

TEST_CASE("transport: all_to_all_plan issues each non-empty block once, at packed offsets") {
  // 3 shards, counts with zeros: 2 blocks are empty.
  const std::vector<std::size_t> counts{1, 0, 2, 3, 4, 0, 5, 6, 7};
  const auto plan = shard::transport::all_to_all_plan(counts, 3);
  REQUIRE(plan.size() == 7);
  CHECK(plan[0] == shard::detail::transfer{0, 0, 0, 0, 1});
  CHECK(plan[1] == shard::detail::transfer{0, 1, 2, 0, 2});
  CHECK(plan[2] == shard::detail::transfer{1, 0, 0, 1, 3});
  CHECK(plan[6] == shard::detail::transfer{2, 11, 2, 2, 7});
}

TEST_CASE("transport: exchanges issue their transfers in rotated order, each once") {
  for (std::size_t g : test::shard_counts) {
    CAPTURE(g);
    std::vector<std::size_t> counts(g * g, 1);
    const auto plan = shard::transport::all_to_all_plan(counts, g);
    const auto order = shard::transport::rotated(plan, g);
    REQUIRE(order.size() == g * g);
    // Step k (transfers k*G .. k*G+G-1): every shard sends to the shard k after it, so each
    // shard sends once and receives once per step.
    for (std::size_t k = 0; k < g; ++k) {
      std::vector<int> received(g, 0);
      for (std::size_t i = 0; i < g; ++i) {
        const auto& t = order[k * g + i];
        CHECK(t.src_shard == i);
        CHECK(t.dst_shard == (i + k) % g);
        ++received[t.dst_shard];
      }
      CHECK(received == std::vector<int>(g, 1));
    }
  }
}

TEST_CASE("transport: all_gather and broadcast reach every shard") {
  for_every_route([&](shard::context& ctx, context_impl& impl) {
    const std::size_t g = ctx.size();
    for (std::size_t count : {std::size_t{1}, std::size_t{777}}) {
      CAPTURE(count);
      const auto init = patterned(g, std::vector<std::size_t>(g, count));
      shard_buffers<std::uint32_t> send(impl, init);
      shard_buffers<std::uint32_t> recv(impl, std::vector<std::vector<std::uint32_t>>(g, std::vector<std::uint32_t>(g * count)));
      ctx.reset_stats();
      shard::detail::run_and_wait(impl, [&] { shard::transport::all_gather(impl, send.as_const(), count, recv.ptr); });
      std::vector<std::uint32_t> all;
      for (auto& v : init) all.insert(all.end(), v.begin(), v.end());
      for (auto& v : recv.to_host(impl)) CHECK(v == all);
      CHECK(shard_matrix(ctx.stats()) == std::vector<std::uint64_t>(g * g, count * sizeof(std::uint32_t)));

      for (std::size_t root : {std::size_t{0}, g - 1}) {
        CAPTURE(root);
        shard_buffers<std::uint32_t> buf(impl, init);
        ctx.reset_stats();
        shard::detail::run_and_wait(impl, [&] { shard::transport::broadcast(impl, root, buf.ptr, count); });
        for (auto& v : buf.to_host(impl)) CHECK(v == init[root]);
        std::vector<std::uint64_t> expected(g * g, 0);
        for (std::size_t d = 0; d < g; ++d)
          if (d != root) expected[root * g + d] = count * sizeof(std::uint32_t);
        CHECK(shard_matrix(ctx.stats()) == expected);
      }
    }
  });
}

TEST_CASE("transport: an exchange resolves positions through its buffer table, and rejects a bad one") {
  auto ctx = shard::context::host(3);
  auto& impl = ctx.impl();
  shard_buffers<std::uint32_t> a(impl, {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}});
  shard_buffers<std::uint64_t> b(impl, {{10, 11}, {12, 13}, {14, 15}});
  shard_buffers<std::uint32_t> out32(impl, {{0, 0}, {0, 0}, {0, 0}});
  shard_buffers<std::uint64_t> out64(impl, {{0}, {0}, {0}});
  shard::transport::buffers where;
  where.src = {{a.ptr[0], a.ptr[1], a.ptr[2]}, {b.ptr[0], b.ptr[1], b.ptr[2]}};
  where.src_element_bytes = {4, 8};
  where.dst = {{out32.ptr[0], out32.ptr[1], out32.ptr[2]}, {out64.ptr[0], out64.ptr[1], out64.ptr[2]}};
  where.dst_element_bytes = {4, 8};
  // Shard 0's a[1..2] to shard 2's out32, shard 1's b[1] to shard 0's out64.
  const std::vector<shard::detail::transfer> plan{{0, 1, 2, 0, 2, 0, 0}, {1, 1, 0, 0, 1, 1, 1}};
  ctx.reset_stats();
  shard::detail::run_and_wait(impl, [&] { shard::transport::exchange_planned(impl, plan, where); });
  CHECK(out32.to_host(impl)[2] == std::vector<std::uint32_t>{2, 3});
  CHECK(out64.to_host(impl)[0] == std::vector<std::uint64_t>{13});
  CHECK(ctx.stats().bytes_between_shards() == 2 * 4 + 8);
  const std::vector<shard::detail::transfer> mixed{{0, 0, 1, 0, 1, 0, 1}};  // 4-byte into 8-byte elements
  CHECK_THROWS_WITH_AS(shard::transport::exchange_planned(impl, mixed, where), doctest::Contains("different element sizes"),
                       shard::invalid_argument);
  const std::vector<shard::detail::transfer> missing{{0, 0, 1, 0, 1, 2, 0}};  // no source buffer 2
  CHECK_THROWS_WITH_AS(shard::transport::exchange_planned(impl, missing, where), doctest::Contains("does not have"),
                       shard::invalid_argument);
}

TEST_CASE("metadata all_gather seen by the shards gives T{} for absent producers") {
  // 3, 5, 8: the doubling steps (with a wrap and a partial last step); 20: beyond
  // shards_gather_max, through the host.
  for (std::size_t g : {std::size_t{3}, std::size_t{5}, std::size_t{8}, std::size_t{20}}) {
    CAPTURE(g);
    auto ctx = shard::context::host(g);
    auto& impl = ctx.impl();
    constexpr std::size_t k = 3;
    auto gather = [&](auto present) {
      std::vector<std::vector<std::uint32_t>> seen(g);
      shard::detail::run_and_wait(impl, [&] {
        auto got = shard::detail::all_gather<std::uint32_t>(
            impl, k,
            [&](std::size_t s, std::uint32_t* slot) {
              if (!present(s)) return false;
              shard::detail::launch(impl, s, [&](auto& dev) {
                shard::detail::primitive::for_each_index(
                    dev, k, shard::detail::fill_fn<std::uint32_t>{slot, static_cast<std::uint32_t>(0xabc0 + s)});
              });
              return true;
            },
            shard::detail::seen_by::shards);
        for (std::size_t d = 0; d < g; ++d) {
          seen[d].resize(g * k);
          impl.dev(d).copy_to_host(seen[d].data(), got.shards.data(d), g * k * sizeof(std::uint32_t));
        }
        impl.synchronize_all();  // the copies read `got`, freed when this scope ends
      });
      return seen;
    };
    (void)gather([](std::size_t) { return true; });  // leaves non-zero values in freed memory
    auto present = [](std::size_t s) { return s % 2 == 1 || s == 2; };
    const auto seen = gather(present);
    for (std::size_t d = 0; d < g; ++d)
      for (std::size_t i = 0; i < g * k; ++i) {
        CAPTURE(d);
        CAPTURE(i);
        const std::size_t s = i / k;
        CHECK(seen[d][i] == (present(s) ? 0xabc0 + s : 0));
      }
    if (g <= shard::detail::shards_gather_max) {
      // Every shard receives each present producer's values once: (present - 1) * k values
      // into a present shard, present * k into an absent one.
      std::size_t producers = 0;
      for (std::size_t s = 0; s < g; ++s) producers += present(s) ? 1 : 0;
      ctx.reset_stats();
      (void)gather(present);
      const auto st = ctx.stats();
      std::uint64_t expected = 0;
      for (std::size_t d = 0; d < g; ++d) expected += (producers - (present(d) ? 1 : 0)) * k * sizeof(std::uint32_t);
      CHECK(st.bytes_between_shards() == expected);
    }
  }
}

TEST_CASE("transport: all_gather in place does not copy a shard's own block") {
  auto ctx = shard::context::host(4);
  auto& impl = ctx.impl();
  const std::size_t count = 5;
  std::vector<std::vector<std::int64_t>> init(4, std::vector<std::int64_t>(4 * count, -1));
  for (std::size_t s = 0; s < 4; ++s)
    for (std::size_t i = 0; i < count; ++i) init[s][s * count + i] = static_cast<std::int64_t>(s * 100 + i);
  shard_buffers<std::int64_t> buf(impl, init);
  std::vector<const std::int64_t*> send;
  for (std::size_t s = 0; s < 4; ++s) send.push_back(buf.ptr[s] + s * count);
  ctx.reset_stats();
  shard::detail::run_and_wait(impl, [&] { shard::transport::all_gather(impl, send, count, buf.ptr); });
  const auto back = buf.to_host(impl);
  for (std::size_t s = 0; s < 4; ++s)
    for (std::size_t b = 0; b < 4; ++b)
      for (std::size_t i = 0; i < count; ++i) CHECK(back[s][b * count + i] == static_cast<std::int64_t>(b * 100 + i));
  const auto st = ctx.stats();
  for (std::size_t s = 0; s < 4; ++s) CHECK(st.bytes_moved(static_cast<int>(s), static_cast<int>(s)) == 0);
  CHECK(st.bytes_between_shards() == 12 * count * sizeof(std::int64_t));
}

TEST_CASE("collectives: reduce_scatter and all_reduce fold in shard order on every shard") {
  for_every_route([&](shard::context& ctx, context_impl& impl) {
    const std::size_t g = ctx.size();
    for (std::size_t count : {std::size_t{1}, g + 1, std::size_t{10007}}) {
      CAPTURE(count);
      std::vector<std::vector<double>> init(g);
      for (std::size_t s = 0; s < g; ++s) init[s] = test::random_data<double>(count, test::seed_for(g, count, s));
      // all_reduce: every shard ends with init[0] + init[1] + ... in that order.
      std::vector<double> expected(count);
      for (std::size_t i = 0; i < count; ++i) {
        double acc = init[0][i];
        for (std::size_t s = 1; s < g; ++s) acc += init[s][i];
        expected[i] = acc;
      }
      shard_buffers<double> buf(impl, init);
      ctx.reset_stats();
      shard::detail::all_reduce(impl, buf.ptr, count, shard::plus<>{});
      const auto st = ctx.stats();
      for (auto& v : buf.to_host(impl)) CHECK(v == expected);  // exact: the order is fixed
      // Each shard sends block d of its buffer to shard d, then its reduced block to the others.
      std::uint64_t between = 0;
      for (std::size_t s = 0; s < g; ++s)
        for (std::size_t d = 0; d < g; ++d)
          if (s != d) between += st.bytes_moved(static_cast<int>(s), static_cast<int>(d));
      CHECK(between == (g == 1 ? 0 : 2 * (g - 1) * count * sizeof(double)));
      CHECK(st.bytes_to_host() == 0);

      // reduce_scatter with G * count elements per shard: shard d gets block d folded.
      std::vector<std::vector<std::int64_t>> big(g);
      for (std::size_t s = 0; s < g; ++s) big[s] = test::random_data<std::int64_t>(g * count, test::seed_for(g, count, s + 99));
      shard_buffers<std::int64_t> send(impl, big);
      shard_buffers<std::int64_t> recv(impl, std::vector<std::vector<std::int64_t>>(g, std::vector<std::int64_t>(count)));
      ctx.reset_stats();
      shard::detail::reduce_scatter(impl, send.as_const(), recv.ptr, count, shard::maximum<>{});
      const auto back = recv.to_host(impl);
      for (std::size_t d = 0; d < g; ++d)
        for (std::size_t i = 0; i < count; ++i) {
          std::int64_t m = big[0][d * count + i];
          for (std::size_t s = 1; s < g; ++s) m = std::max(m, big[s][d * count + i]);
          CHECK(back[d][i] == m);
        }
      CHECK(shard_matrix(ctx.stats()) == std::vector<std::uint64_t>(g * g, count * sizeof(std::int64_t)));
    }
  });
}

TEST_CASE("collectives: bad arguments are rejected with a message naming them") {
  auto ctx = shard::context::host(3);
  auto& impl = ctx.impl();
  std::vector<const int*> send(3, nullptr);
  std::vector<int*> recv(3, nullptr);
  CHECK_THROWS_WITH_AS(shard::transport::all_to_all_v(impl, send, std::vector<std::size_t>(4, 0), recv),
                       doctest::Contains("counts has 4 entries, expected 9"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::transport::all_gather(impl, std::vector<const int*>(2), 1, recv),
                       doctest::Contains("send has 2 buffers, the context has 3 shards"), shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::transport::broadcast(impl, 3, recv, 1), doctest::Contains("root shard 3 out of range"),
                       shard::invalid_argument);
  CHECK_THROWS_WITH_AS(shard::transport::all_to_all(impl, send, 1, recv, shard::transport::engine::nccl),
                       doctest::Contains("engine::nccl needs NCCL"), shard::invalid_argument);
  CHECK_FALSE(shard::transport::nccl_available(impl));
}

#if SHARD_HAS_NCCL
TEST_CASE("nccl: the application's communicators are checked, used and never destroyed by shard") {
  // Emulated shards: NCCL cannot serve them.
  auto host = shard::context::host(2);
  CHECK_THROWS_WITH_AS(shard::nccl::use_communicators(host, {nullptr, nullptr}),
                       doctest::Contains("not two or more CUDA shards on distinct GPUs"), shard::invalid_argument);
  CHECK_FALSE(shard::nccl::uses_given_communicators(host));
  if (!test::backend_enabled("cuda") || test::gpu_count() < 2) return;
  std::vector<ncclComm_t> comms(2, nullptr);
  int ordinals[2] = {0, 1};
  REQUIRE(ncclCommInitAll(comms.data(), 2, ordinals) == ncclSuccess);
  {
    auto ctx = shard::context::cuda({0, 1});
    auto& impl = ctx.impl();
    CHECK_THROWS_WITH_AS(shard::nccl::use_communicators(ctx, {comms[0]}), doctest::Contains("1 communicators given for 2 shards"),
                         shard::invalid_argument);
    CHECK_THROWS_WITH_AS(shard::nccl::use_communicators(ctx, {comms[1], comms[0]}),
                         doctest::Contains("communicator 0 is NCCL rank 1 where shard 0 needs rank 0"), shard::invalid_argument);
    CHECK_FALSE(shard::nccl::uses_given_communicators(ctx));
    shard::nccl::use_communicators(ctx, comms);
    CHECK(shard::nccl::uses_given_communicators(ctx));
    shard_buffers<int> buf(impl, {{1, 2, 3}, {10, 20, 30}});
    shard::detail::all_reduce(impl, buf.ptr, 3, shard::plus<>{}, shard::transport::engine::nccl);
    for (auto& v : buf.to_host(impl)) CHECK(v == std::vector<int>{11, 22, 33});
    CHECK(shard::nccl::uses_given_communicators(ctx));
  }
  // The context is gone; the communicators are still the application's to destroy.
  for (ncclComm_t c : comms) CHECK(ncclCommDestroy(c) == ncclSuccess);
}
#endif

TEST_CASE("collectives: a failure in the fold leaves no buffer behind and the context usable") {
  auto ctx = shard::context::host(4);
  auto& impl = ctx.impl();
  {
    shard_buffers<int> buf(impl, std::vector<std::vector<int>>(4, std::vector<int>(1000, 1)));
    std::vector<std::size_t> before;
    for (std::size_t s = 0; s < 4; ++s) before.push_back(shard::testing::bytes_in_use(ctx, s));
    shard::testing::fail_primitive(ctx, 2, 1);
    CHECK_THROWS_WITH_AS(shard::detail::all_reduce(impl, buf.ptr, 1000, shard::plus<>{}),
                         doctest::Contains("injected failure"), shard::error);
    for (std::size_t s = 0; s < 4; ++s) CHECK(shard::testing::bytes_in_use(ctx, s) == before[s]);
    // In place, the buffers' contents are unspecified after a failure; the context works on.
    shard_buffers<int> again(impl, std::vector<std::vector<int>>(4, std::vector<int>(1000, 1)));
    shard::detail::all_reduce(impl, again.ptr, 1000, shard::plus<>{});
    for (auto& v : again.to_host(impl)) CHECK(v == std::vector<int>(1000, 4));
  }
}

TEST_CASE("topology: the host backend describes its emulated devices and routes") {
  for (bool peer : {true, false}) {
    auto ctx = shard::context::host(3, shard::host_options{1 << 20, peer});
    const auto& t = ctx.topology();
    REQUIRE(t.size() == 3);
    CHECK(t.backend == "host");
    CHECK(t.shards[1].ordinal == 1);
    CHECK(t.shards[1].memory_bytes == (1u << 20));
    for (std::size_t a = 0; a < 3; ++a)
      for (std::size_t b = 0; b < 3; ++b) {
        CHECK(t.link(a, b).same_device == (a == b));
        CHECK(t.link(a, b).peer_enabled == (a != b && peer));
        CHECK(ctx.peer_access(a, b) == (a == b || peer));
      }
    std::ostringstream os;
    os << t;
    CHECK(os.str().find("emulated devices") != std::string::npos);
    CHECK(os.str().find(peer ? "P0" : "S") != std::string::npos);
  }
}

TEST_CASE("devices: timed events measure the time between two points of a queue") {
  // Host backend: a task that sleeps 20 ms between the two events.
  auto host = shard::context::host(2);
  auto& hd = static_cast<shard::host_backend::device&>(host.impl().dev(1));
  auto start = hd.record_timed();
  hd.launch([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
  auto stop = hd.record_timed();
  hd.synchronize();
  CHECK(hd.elapsed_ms(*start, *stop) >= 19.0);
  CHECK(hd.elapsed_ms(*stop, *start) <= -19.0);
  // Every backend: a 1 MiB copy takes a positive, bounded time.
  for (auto& ctx : test::contexts(2)) {
    auto& d = ctx.impl().dev(0);
    const std::size_t size = 1 << 20;
    void* bytes = d.allocate_host(size);  // pinned: a GPU copies it without blocking
    std::memset(bytes, 1, size);
    device_buffer<char> buf(ctx.impl(), 0, size);
    auto a = d.record_timed();
    d.copy_from_host(buf.data(), bytes, size);
    auto b = d.record_timed();
    d.synchronize();
    const double ms = d.elapsed_ms(*a, *b);
    d.deallocate_host(bytes, size);
    CHECK(ms > 0.0);
    CHECK(ms < 10000.0);
  }
}

/// Queues work on `shard` that runs until `polled` is set (at most 10 s): the wait on it is
/// sure to poll the engine, however slow the machine.
static void busy_until_polled(context_impl& impl, std::size_t shard, std::shared_ptr<std::atomic<bool>> polled) {
  static_cast<shard::host_backend::device&>(impl.dev(shard)).launch([polled] {
    for (int i = 0; i < 10000 && !*polled; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
}

TEST_CASE("context: the abort after a poll's error is bounded, as a deadline's abort is") {
  auto ctx = shard::context::host(2);
  auto& impl = ctx.impl();
  ctx.set_wait_timeout(std::chrono::milliseconds(1000));
  // An abort that blocks for 6 s (as ncclCommAbort on a stuck stream): the wait must not.
  auto aborted = std::make_shared<std::atomic<bool>>(false);
  auto polled = std::make_shared<std::atomic<bool>>(false);
  impl.set_collective_engine(std::make_shared<test::scripted_engine>(
      [polled] {
        *polled = true;
        throw shard::error("asynchronous error (test engine)", 0, 0, "poll");
      },
      [aborted] {
        std::this_thread::sleep_for(std::chrono::seconds(6));
        *aborted = true;
      }));
  busy_until_polled(impl, 0, polled);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(ctx.synchronize(), doctest::Contains("asynchronous error (test engine)"), shard::error);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(4500));
  CHECK_FALSE(*aborted);  // still aborting on its own thread, which keeps the engine alive
  CHECK_FALSE(impl.engine());
  // No new engine may start beside an abort still running: the context is unusable.
  CHECK_FALSE(ctx.usable());
  CHECK_THROWS_WITH_AS(ctx.synchronize(), doctest::Contains("abort did not finish"), shard::error);
}

TEST_CASE("context: an abort that finishes within its bound leaves the context usable") {
  auto ctx = shard::context::host(2);
  auto& impl = ctx.impl();
  auto aborts = std::make_shared<std::atomic<int>>(0);
  auto polled = std::make_shared<std::atomic<bool>>(false);
  impl.set_collective_engine(std::make_shared<test::scripted_engine>(
      [polled] {
        *polled = true;
        throw shard::error("asynchronous error (test engine)", 0, 0, "poll");
      },
      [aborts] { ++*aborts; }));
  busy_until_polled(impl, 0, polled);
  CHECK_THROWS_WITH_AS(ctx.synchronize(), doctest::Contains("asynchronous error (test engine)"), shard::error);
  CHECK(*aborts == 1);
  CHECK(ctx.usable());
  ctx.synchronize();
}

TEST_CASE("context: a collective engine's poll runs while the host waits, and its error is thrown after the shards drain") {
  auto ctx = shard::context::host(2);
  auto& impl = ctx.impl();
  int polls = 0;
  bool thrown = false;
  auto aborts = std::make_shared<std::atomic<int>>(0);
  impl.set_collective_engine(std::make_shared<test::scripted_engine>(
      [&] {
        ++polls;
        if (polls == 3 && !thrown) {
          thrown = true;
          throw shard::error("asynchronous error (test engine)", 1, 1, "poll");
        }
      },
      [aborts] { ++*aborts; }));
  std::atomic<bool> finished{false};
  static_cast<shard::host_backend::device&>(impl.dev(1)).launch([&finished] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = true;
  });
  CHECK_THROWS_WITH_AS(ctx.synchronize(), doctest::Contains("asynchronous error (test engine)"), shard::error);
  CHECK(finished);  // the wait still drained the shard
  CHECK(polls >= 3);
  CHECK(*aborts == 1);                // the error aborted the engine ...
  CHECK_FALSE(impl.engine());         // ... and the context let go of it
  ctx.synchronize();
  const int before = polls;
  ctx.synchronize();
  CHECK(polls == before);  // no engine: no polling
}

TEST_CASE("collectives: floating-point sums keep shard's order unless the caller asks for NCCL") {
  using shard::transport::engine;
  using shard::transport::nccl_sum_allowed;
  // NCCL's order (ring, tree, NVLS) is not the documented shard-order fold: automatic runs
  // floating-point sums on copies, integer sums (exact in any order) on NCCL when it can.
  CHECK_FALSE(nccl_sum_allowed<double>(engine::automatic));
  CHECK_FALSE(nccl_sum_allowed<float>(engine::automatic));
  CHECK(nccl_sum_allowed<std::int64_t>(engine::automatic));
  CHECK(nccl_sum_allowed<std::uint32_t>(engine::automatic));
  CHECK(nccl_sum_allowed<double>(engine::nccl));  // the caller's explicit opt-out
  CHECK_FALSE(nccl_sum_allowed<std::int32_t>(engine::copies));
}
