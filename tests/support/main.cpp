// doctest main for every test binary: says which backends run, and exits with 77 (ctest's
// "skipped") when the binary was asked for the CUDA backend alone and no GPU is present.
#define DOCTEST_CONFIG_IMPLEMENT
#include "test_support.hpp"

int main(int argc, char** argv) {
#if SHARD_HAS_CUDA
  std::string why;
  const int gpus = shard::cuda_backend::device_count(&why);
  if (gpus == 0) {
    std::cout << "CUDA backend: skipped, no GPU (" << why << ")\n";
    if (!test::backend_enabled("host")) return 77;
  } else {
    std::cout << "CUDA backend: " << gpus << " GPU(s)\n";
  }
#endif
  if (test::backend_enabled("host")) std::cout << "host backend: emulated devices\n";
  doctest::Context context(argc, argv);
  return context.run();
}
