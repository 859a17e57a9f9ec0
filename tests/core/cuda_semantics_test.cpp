// host_options::cuda_semantics: the host backend takes the freedoms of order that CUB documents
// (docs/testing.md), each checked here to be taken (a result that differs where the freedom
// is observable) and to be no more than that freedom (exact where CUB is exact).
#include "../support/test_support.hpp"
#include <shard/backend/host/gpu_order.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

namespace {
std::vector<std::string> letters(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::string(1, static_cast<char>('a' + i % 26)));
  return out;
}

// Concatenation: associative, not commutative.
struct concat {
  std::string operator()(const std::string& a, const std::string& b) const { return a + b; }
};

// "keep the first of equal maxima": associative, not commutative.
struct first_max {
  SHARD_HOST_DEVICE test::point operator()(const test::point& a, const test::point& b) const {
    return a.x >= b.x ? a : b;
  }
};

shard::host_options with_gpu_order() {
  shard::host_options o;
  o.cuda_semantics = true;
  return o;
}
}  // namespace

TEST_CASE("cuda_semantics reductions permute and commute their operands, as cub::DeviceReduce may" *
          doctest::test_suite("cuda_semantics")) {
  for (std::size_t n : {2, 9, 100, 1000}) {
    CAPTURE(n);
    const auto in = letters(n);
    const std::string sequential = std::accumulate(in.begin(), in.end(), std::string("<"), concat{});
    const std::string permuted =
        shard::host_backend::permuted_reduce(n, std::string("<"), concat{}, [&](std::size_t i) { return in[i]; });
    CHECK(permuted != sequential);  // the order is not kept ...
    auto a = permuted, b = sequential;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);  // ... but every operand is combined exactly once
  }
  // Through the public algorithm: a non-commutative operator gives another answer.
  std::vector<test::point> host(1000);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = test::point{7, static_cast<float>(i)};
  auto sequential = shard::context::host(2);
  auto gpu = shard::context::host(2, with_gpu_order());
  const shard::vector<test::point> a(sequential, host), b(gpu, host);
  CHECK(shard::reduce(a, test::point{0, -1}, first_max{}) == host[0]);
  CHECK_FALSE(shard::reduce(b, test::point{0, -1}, first_max{}) == host[0]);
}

TEST_CASE("cuda_semantics scans and reduce-by-key keep operand order but associate per tile" *
          doctest::test_suite("cuda_semantics")) {
  using namespace shard::host_backend;
  for (std::size_t n : {1, 36, 37, 38, 200}) {
    CAPTURE(n);
    const auto in = letters(n);
    std::vector<std::string> want(n), got(n);
    std::inclusive_scan(in.begin(), in.end(), want.begin(), concat{});
    tiled_inclusive_scan(in.data(), got.data(), n, concat{}, static_cast<const std::string*>(nullptr));
    CHECK(got == want);
    const std::string carry = "<";
    std::inclusive_scan(in.begin(), in.end(), want.begin(), concat{}, carry);
    tiled_inclusive_scan(in.data(), got.data(), n, concat{}, &carry);
    CHECK(got == want);
    std::exclusive_scan(in.begin(), in.end(), want.begin(), carry, concat{});
    tiled_exclusive_scan(in.data(), got.data(), n, concat{}, carry);
    CHECK(got == want);
    auto inplace = in;
    tiled_exclusive_scan(inplace.data(), inplace.data(), n, concat{}, carry);
    CHECK(inplace == want);
    CHECK(tiled_run_fold(in.data(), 0, n, concat{}) == std::accumulate(in.begin() + 1, in.end(), in[0], concat{}));
  }
  // Floating-point sums associate differently from a left-to-right pass: some prefix differs.
  std::mt19937 rng(7);
  std::vector<float> x(1000);
  for (auto& v : x) v = std::uniform_real_distribution<float>(-100, 100)(rng);
  std::vector<float> left(x.size()), tiled(x.size());
  std::inclusive_scan(x.begin(), x.end(), left.begin());
  tiled_inclusive_scan(x.data(), tiled.data(), x.size(), shard::plus<>{}, static_cast<const float*>(nullptr));
  CHECK(left != tiled);
  float folded = x[0];
  for (std::size_t i = 1; i < x.size(); ++i) folded += x[i];
  CHECK(tiled_run_fold(x.data(), 0, x.size(), shard::plus<>{}) != folded);
}

TEST_CASE("cuda_semantics for_each and transform visit elements out of order, as cub::DeviceFor may" *
          doctest::test_suite("cuda_semantics")) {
  for (bool gpu : {false, true}) {
    CAPTURE(gpu);
    auto ctx = shard::context::host(1, gpu ? with_gpu_order() : shard::host_options{});
    shard::vector<int> v(ctx, 5);
    shard::iota(v, 0);
    std::vector<int> order(5, -1);
    int next = 0;
    int* seen = order.data();
    int* at = &next;
    shard::for_each(v, [seen, at] SHARD_HOST_DEVICE(int& x) { seen[(*at)++] = x; });  // host contexts only: runs on the host
    CHECK(order == (gpu ? std::vector<int>{4, 3, 2, 1, 0} : std::vector<int>{0, 1, 2, 3, 4}));
  }
}

TEST_CASE("cuda_semantics transform passes copies of the elements, as cub::DeviceTransform may" *
          doctest::test_suite("cuda_semantics")) {
  for (bool gpu : {false, true}) {
    CAPTURE(gpu);
    auto ctx = shard::context::host(1, gpu ? with_gpu_order() : shard::host_options{});
    shard::vector<int> v(ctx, 4), inside(ctx, 4);
    const int* first = v.segment(0).data;
    const int* last = first + 4;
    // 1 where the operator sees the element itself (its address inside v's segment).
    shard::transform(v, inside, [first, last] SHARD_HOST_DEVICE(const int& x) { return &x >= first && &x < last ? 1 : 0; });
    CHECK(inside.to_host() == std::vector<int>(4, gpu ? 0 : 1));
  }
}
