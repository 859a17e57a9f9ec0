// interop: shard inside an application that owns its memory and its streams. The application
// allocates one buffer per shard itself (cudaMalloc on each GPU; aligned host memory on
// emulated devices) and makes one stream per GPU; shard wraps the buffers as one vector
// without copying (vector::wrap) on a context built on those streams (cuda_options::streams);
// a Thrust call fills each segment on its shard's stream (shard::on_each_shard); shard::sort
// sorts across the shards, in the application's memory; the application reads its buffers
// back itself and checks them. docs/interop.md.
//
//   interop [elements]      (default 16M)
#include <shard/shard.hpp>

#if SHARD_HAS_CUDA
#  include <cuda_runtime_api.h>
#  include <thrust/execution_policy.h>
#  include <thrust/iterator/counting_iterator.h>
#  include <thrust/transform.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// Element i's key: a hash of its index.
struct key_of {
  SHARD_HOST_DEVICE std::uint32_t operator()(std::size_t i) const {
    std::uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    return static_cast<std::uint32_t>(z >> 32);
  }
};

#if SHARD_HAS_CUDA
void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}
#endif

/// The application's side: its streams, and its buffers of `sizes[s]` keys per shard.
struct application {
  bool gpu = false;
  std::vector<int> ordinals;
#if SHARD_HAS_CUDA
  std::vector<cudaStream_t> streams;
#endif
  std::vector<std::span<std::uint32_t>> buffers;

  ~application() {
    for (std::size_t s = 0; s < buffers.size(); ++s) {
      if (buffers[s].data() == nullptr) continue;
#if SHARD_HAS_CUDA
      if (gpu) {
        (void)cudaFree(buffers[s].data());
        continue;
      }
#endif
      ::operator delete(buffers[s].data(), std::align_val_t(256));
    }
#if SHARD_HAS_CUDA
    for (auto s : streams) (void)cudaStreamDestroy(s);
#endif
  }

  void allocate(const std::vector<std::size_t>& sizes) {
    for (std::size_t s = 0; s < sizes.size(); ++s) {
      std::uint32_t* p = nullptr;
      if (sizes[s] != 0) {
#if SHARD_HAS_CUDA
        if (gpu) {
          check(cudaSetDevice(ordinals[s]), "cudaSetDevice");
          check(cudaMalloc(&p, sizes[s] * sizeof(std::uint32_t)), "cudaMalloc");
        }
#endif
        if (!gpu) p = static_cast<std::uint32_t*>(::operator new(sizes[s] * sizeof(std::uint32_t), std::align_val_t(256)));
      }
      buffers.emplace_back(p, sizes[s]);
    }
  }

  /// The keys of every buffer, in shard order, read by the application itself.
  std::vector<std::uint32_t> read() const {
    std::vector<std::uint32_t> out;
    for (const auto& b : buffers) {
      const std::size_t at = out.size();
      out.resize(at + b.size());
      if (b.empty()) continue;
#if SHARD_HAS_CUDA
      if (gpu) {
        check(cudaMemcpy(out.data() + at, b.data(), b.size_bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
        continue;
      }
#endif
      std::copy(b.begin(), b.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
    }
    return out;
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::size_t n = argc > 1 ? std::stoull(argv[1]) : std::size_t{16} << 20;
    application app;
    shard::context ctx = shard::context::host(shard::context::host_devices_from_environment());
#if SHARD_HAS_CUDA
    if (shard::context::cuda_device_count() > 0) {
      // The application's streams, one per GPU; shard's context queues on them.
      app.gpu = true;
      shard::cuda_options options;
      for (int d = 0; d < shard::context::cuda_device_count(); ++d) {
        cudaStream_t s = nullptr;
        check(cudaSetDevice(d), "cudaSetDevice");
        check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        app.ordinals.push_back(d);
        app.streams.push_back(s);
      }
      options.streams = app.streams;
      ctx = shard::context::cuda(app.ordinals, options);
    }
#endif
    if (!app.gpu)
      for (std::size_t s = 0; s < ctx.size(); ++s) app.ordinals.push_back(ctx.device(s));
    std::printf("interop: %zu keys in the application's buffers on %zu shard(s) of the %s backend\n", n, ctx.size(),
                app.gpu ? "CUDA (on the application's streams)" : "host");

    // The application's buffers: uneven on purpose (shard takes any sizes).
    std::vector<std::size_t> sizes = shard::distribution::even().sizes(n, ctx.size());
    if (ctx.size() > 1) {
      const std::size_t moved = sizes[0] / 2;
      sizes[0] -= moved;
      sizes.back() += moved;
    }
    app.allocate(sizes);
    auto keys = shard::vector<std::uint32_t>::wrap(ctx, app.buffers);  // no copy

    // The application's own code on every shard: Thrust on the shard's stream on a GPU.
    shard::on_each_shard(
        [&](const shard::shard_place& here, shard::segment<std::uint32_t> seg) {
#if SHARD_HAS_CUDA
          if (here.stream != nullptr) {
            thrust::transform(thrust::cuda::par_nosync.on(here.stream), thrust::counting_iterator<std::size_t>(seg.offset),
                              thrust::counting_iterator<std::size_t>(seg.offset + seg.size), seg.data, key_of{});
            return;
          }
#endif
          (void)here;
          for (std::size_t i = 0; i < seg.size; ++i) seg.data[i] = key_of{}(seg.offset + i);
        },
        keys);

    ctx.reset_stats();
    shard::sort(keys);  // across the shards, in the application's memory, on its streams
    const auto st = ctx.stats();

    std::vector<std::uint32_t> expected(n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = key_of{}(i);
    std::sort(expected.begin(), expected.end());
    const auto mine = app.read();  // the application reads its own buffers
    const bool ok = mine == expected && keys.segment_sizes() == sizes;
    std::printf("sorted in place: %llu bytes between shards, %llu host syncs; shard allocated %llu bytes at peak on "
                "shard 0 for its scratch\n",
                static_cast<unsigned long long>(st.bytes_between_shards()), static_cast<unsigned long long>(st.host_syncs),
                static_cast<unsigned long long>(st.peak_bytes.empty() ? 0 : st.peak_bytes[0]));
    std::printf("%s\n", ok ? "the application's buffers hold the sorted keys" : "MISMATCH in the application's buffers");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop: %s\n", e.what());
    return 2;
  }
}
