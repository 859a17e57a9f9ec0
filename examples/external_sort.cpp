// external_sort: sorts a file of 64-bit keys that is larger than one device's memory, by
// pooling the memory of every shard: the keys are spread over all of them, shard::sort sorts
// them across the shards, and the sorted keys are written to the output file. Prints the
// throughput, and checks the output (sorted, and the same keys: order-independent checksums).
//
//   external_sort <input> <output>   sorts a file of native-endian uint64 keys
//   external_sort --demo [keys]      writes a file of random keys (default 64M) to a temporary
//                                    file and sorts it; on emulated devices each one holds
//                                    less memory than the file (host_options::memory_per_shard)
#include <shard/shard.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

std::vector<std::uint64_t> read_keys(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  const auto bytes = static_cast<std::size_t>(in.tellg());
  if (bytes % sizeof(std::uint64_t) != 0)
    throw std::runtime_error(path + ": " + std::to_string(bytes) + " bytes is not a whole number of 8-byte keys");
  std::vector<std::uint64_t> keys(bytes / sizeof(std::uint64_t));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(keys.data()), static_cast<std::streamsize>(bytes)))
    throw std::runtime_error("cannot read " + path);
  return keys;
}

void write_keys(const std::string& path, const std::vector<std::uint64_t>& keys) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(reinterpret_cast<const char*>(keys.data()),
                         static_cast<std::streamsize>(keys.size() * sizeof(std::uint64_t))))
    throw std::runtime_error("cannot write " + path);
}

/// Two checksums that do not depend on the order of the keys.
struct checksum {
  std::uint64_t sum = 0, mixed = 0;
  explicit checksum(const std::vector<std::uint64_t>& keys) {
    for (auto k : keys) {
      sum += k;
      std::uint64_t z = k * 0x9E3779B97F4A7C15ull;
      mixed += z ^ (z >> 29);
    }
  }
  bool operator==(const checksum&) const = default;
};

/// Sorts `input` into `output` on `ctx`; true when the output checks.
bool sort_file(shard::context ctx, const std::string& input, const std::string& output) {
  auto t = clock_type::now();
  const auto keys = read_keys(input);
  const double read_s = since(t);
  const double bytes = static_cast<double>(keys.size() * sizeof(std::uint64_t));
  std::uint64_t largest_device = 0, pooled = 0;
  for (const auto& s : ctx.topology().shards) {
    largest_device = std::max<std::uint64_t>(largest_device, s.memory_bytes);
    pooled += s.memory_bytes;
  }
  std::printf("%s: %zu keys (%.1f MB); the largest device holds %.1f MB, all %zu shards %.1f MB\n", input.c_str(),
              keys.size(), bytes / 1e6, static_cast<double>(largest_device) / 1e6, ctx.size(),
              static_cast<double>(pooled) / 1e6);
  const checksum before(keys);

  t = clock_type::now();
  shard::vector<std::uint64_t> v(ctx, keys);  // spread over every shard
  const double upload_s = since(t);
  ctx.reset_stats();
  t = clock_type::now();
  shard::sort(v);
  const double sort_s = since(t);
  const auto st = ctx.stats();
  t = clock_type::now();
  const auto sorted = v.to_host();
  const double download_s = since(t);
  t = clock_type::now();
  write_keys(output, sorted);
  const double write_s = since(t);

  std::printf("read %.3f s, to the shards %.3f s, sort %.3f s (%.1f M keys/s), back %.3f s, write %.3f s\n", read_s,
              upload_s, sort_s, static_cast<double>(keys.size()) / sort_s / 1e6, download_s, write_s);
  std::printf("end to end %.1f MB/s; the sort moved %.1f MB between shards, peak %.1f MB on shard 0\n",
              bytes / (read_s + upload_s + sort_s + download_s + write_s) / 1e6,
              static_cast<double>(st.bytes_between_shards()) / 1e6,
              st.peak_bytes.empty() ? 0.0 : static_cast<double>(st.peak_bytes[0]) / 1e6);
  const auto check = read_keys(output);
  return std::is_sorted(check.begin(), check.end()) && checksum(check) == before;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string first = argc > 1 ? argv[1] : "";
    if (first != "--demo") {
      if (argc != 3) {
        std::fprintf(stderr, "usage: external_sort <input> <output> | external_sort --demo [keys]\n");
        return 2;
      }
      const bool ok = sort_file(shard::context::automatic(), argv[1], argv[2]);
      std::printf("%s\n", ok ? "output sorted, the same keys" : "OUTPUT WRONG");
      return ok ? 0 : 1;
    }
    const std::size_t n = argc > 2 ? std::stoull(argv[2]) : std::size_t{64} << 20;
    const auto dir = std::filesystem::temp_directory_path();
    const std::string input = (dir / "shard_external_sort_in.bin").string();
    const std::string output = (dir / "shard_external_sort_out.bin").string();
    {
      std::vector<std::uint64_t> keys(n);
      std::mt19937_64 rng(2026);
      for (auto& k : keys) k = rng();
      write_keys(input, keys);
    }
    shard::context ctx = shard::context::automatic();
    if (ctx.kind() == shard::backend::host) {
      // At least 4 emulated devices that each hold 90% of the file: no one of them could sort
      // it alone (a shard needs its segment, the elements it receives and a merge buffer).
      shard::host_options options;
      options.memory_per_shard = n * sizeof(std::uint64_t) * 9 / 10 + 4096;
      ctx = shard::context::host(std::max<std::size_t>(ctx.size(), 4), options);
    }
    std::printf("external_sort: %zu shard(s) of the %s backend\n", ctx.size(),
                ctx.kind() == shard::backend::cuda ? "CUDA" : "host");
    const bool ok = sort_file(ctx, input, output);
    std::filesystem::remove(input);
    std::filesystem::remove(output);
    std::printf("%s\n", ok ? "output sorted, the same keys" : "OUTPUT WRONG");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "external_sort: %s\n", e.what());
    return 2;
  }
}
