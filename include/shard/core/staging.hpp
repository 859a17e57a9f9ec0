#pragma once
/// @file core/staging.hpp
/// The pinned host buffers that one shard's host traffic goes through: its outgoing
/// shard-to-shard copies without peer access, and its whole-vector transfers from and to
/// pageable host memory (transport/host.hpp). Each shard has its own pool, so transfers of
/// different shards never queue behind each other; a context creates a shard's pool on first
/// use and keeps it: at most chunk_count * chunk_bytes = 16 MiB of pinned memory per shard.
/// Each chunk remembers the event after which its last copy out of it finished, so a chunk is
/// never refilled early.
#include <shard/config.hpp>
#include <shard/core/device.hpp>

#include <cstddef>
#include <memory>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

class staging_pool {
 public:
  /// Chunk size and count: large enough for a copy engine to reach full speed, several so
  /// the copy into host memory of one chunk overlaps the copy out of the previous one.
  static constexpr std::size_t chunk_bytes = std::size_t{4} << 20;
  static constexpr std::size_t chunk_count = 4;

  struct chunk {
    void* data = nullptr;
    /// Reached when the last copy out of this chunk has finished (null: never used).
    std::shared_ptr<event> released;
  };

  /// Allocates the chunks as `owner`'s pinned host memory. Throws out_of_memory.
  explicit staging_pool(device& owner) : owner_(owner) {
    try {
      for (std::size_t i = 0; i < chunk_count; ++i) chunks_.push_back(chunk{owner_.allocate_host(chunk_bytes), {}});
    } catch (...) {
      release();
      throw;
    }
  }
  ~staging_pool() { release(); }
  staging_pool(const staging_pool&) = delete;
  staging_pool& operator=(const staging_pool&) = delete;

  /// Gives the chunks up without freeing them: after the context abandoned a device, copies
  /// into them may still be queued behind work that never ends, and freeing pinned memory is
  /// not ordered against them (it may wait for them, or let them write into freed pages).
  void leak() noexcept { chunks_.clear(); }

  /// The next chunk, round robin.
  chunk& next() noexcept {
    chunk& c = chunks_[next_];
    next_ = (next_ + 1) % chunks_.size();
    return c;
  }

 private:
  void release() noexcept {
    for (auto& c : chunks_) owner_.deallocate_host(c.data, chunk_bytes);
    chunks_.clear();
  }
  device& owner_;
  std::vector<chunk> chunks_;
  std::size_t next_ = 0;
};

}  // namespace detail
SHARD_NAMESPACE_END
