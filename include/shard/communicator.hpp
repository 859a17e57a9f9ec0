#pragma once
/// @file communicator.hpp
/// shard::communicator: how the processes ("ranks") of a context that spans several of them
/// reach each other. shard sends only host bytes through it: metadata (all_gather_v), the
/// outcome of every step (agreement), and the elements that move between shards of different
/// ranks (exchange). In the spirit of CCCL's communicator concept (rank, size, send/recv,
/// all-gather); two implementations come with shard: MPI (shard/mpi.hpp, target shard::mpi)
/// and ranks as threads of one process (shard/communicators/threads.hpp, for tests).
///
/// Every call is collective in the SPMD sense: the ranks make the same calls in the same
/// order, so messages match by order alone (between two ranks, messages arrive in the order
/// they were sent, as MPI guarantees on one communicator and tag).
#include <shard/config.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN

class communicator {
 public:
  /// A message to send: `bytes` bytes at `data` to rank `peer`.
  struct outgoing {
    int peer;
    const void* data;
    std::size_t bytes;
  };
  /// A message to receive: exactly `bytes` bytes from rank `peer` into `data`.
  struct incoming {
    int peer;
    void* data;
    std::size_t bytes;
  };
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~communicator() = default;
  /// This rank, 0..size()-1.
  virtual int rank() const noexcept = 0;
  /// Number of ranks.
  virtual int size() const noexcept = 0;
  /// The name of the machine this rank runs on (MPI_Get_processor_name); ranks with one name
  /// share a node.
  virtual std::string host_name() const = 0;

  /// Posts every send and every receive at once, then waits until all of them are done or
  /// `deadline` passes. Returns false past the deadline: messages may still be in flight, and
  /// the communicator must not be used again (its caller gives up on it). Messages to one
  /// peer are delivered in list order; a message of any size is allowed (implementations
  /// split what their library cannot send at once). Throws shard::error when the library
  /// reports a failure, or a received message has another size than expected.
  virtual bool exchange(const std::vector<outgoing>& sends, const std::vector<incoming>& receives,
                        time_point deadline) = 0;

  /// Every rank's block, in rank order: rank r contributes bytes[r] bytes (`mine`, on rank r),
  /// and `all` receives the sum of bytes, block after block. The same deadline rule as
  /// exchange. This default sends each block to every other rank (O(size) messages per
  /// rank); the MPI engine uses MPI_Allgatherv.
  virtual bool all_gather_v(const void* mine, void* all, const std::vector<std::size_t>& bytes, time_point deadline) {
    const int n = size(), me = rank();
    std::vector<std::size_t> at(static_cast<std::size_t>(n) + 1, 0);
    for (int r = 0; r < n; ++r) at[r + 1] = at[r] + bytes[r];
    char* out = static_cast<char*>(all);
    if (bytes[me] != 0 && out + at[me] != mine) std::memmove(out + at[me], mine, bytes[me]);
    std::vector<outgoing> sends;
    std::vector<incoming> receives;
    for (int k = 1; k < n; ++k) {  // rotated: at step k, rank r sends to r + k
      const int to = (me + k) % n, from = (me - k + n) % n;
      if (bytes[me] != 0) sends.push_back(outgoing{to, out + at[me], bytes[me]});
      if (bytes[from] != 0) receives.push_back(incoming{from, out + at[from], bytes[from]});
    }
    return exchange(sends, receives, deadline);
  }

  /// Whether exchange() may send from and receive into GPU memory (a CUDA-aware MPI): then an
  /// exchange between ranks of GPU shards skips the staging through pinned host memory.
  virtual bool device_memory() const noexcept { return false; }

  /// Gives up on the messages in flight after a deadline passed (best effort; never throws).
  virtual void abort() noexcept {}
};

SHARD_NAMESPACE_END
