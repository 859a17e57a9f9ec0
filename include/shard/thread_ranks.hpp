#pragma once
/// @file thread_ranks.hpp
/// shard::thread_ranks: the ranks of an SPMD context as threads of one process, for tests: the
/// same code paths as MPI ranks (every inter-rank byte goes through shard::communicator), under
/// ASan and TSan, without an MPI launcher. Not part of <shard/shard.hpp>.
///
///     shard::thread_ranks world(3);
///     world.run([&](int rank) {
///       shard::context ctx = shard::context::spmd(world.communicator(rank), shard::context::host(2));
///       ...   // the same collective calls on every rank
///     });
#include <shard/config.hpp>
#include <shard/communicator.hpp>
#include <shard/core/device.hpp>
#include <shard/error.hpp>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

SHARD_NAMESPACE_BEGIN

class thread_ranks {
 public:
  /// `ranks` ranks; `hosts[r]` names rank r's machine (default: all on "localhost"), so that
  /// tests can emulate several nodes. Throws invalid_argument for fewer than 1 rank or a
  /// host list of another length.
  explicit thread_ranks(int ranks, std::vector<std::string> hosts = {}) : state_(std::make_shared<state>()) {
    if (ranks < 1) throw invalid_argument("thread_ranks: the number of ranks must be at least 1");
    if (hosts.empty()) hosts.assign(static_cast<std::size_t>(ranks), "localhost");
    if (hosts.size() != static_cast<std::size_t>(ranks))
      throw invalid_argument("thread_ranks: " + std::to_string(hosts.size()) + " host names for " +
                             std::to_string(ranks) + " ranks");
    state_->ranks = ranks;
    state_->hosts = std::move(hosts);
  }

  int size() const noexcept { return state_->ranks; }

  /// Rank r's end of the world (each rank's context takes its own).
  std::shared_ptr<shard::communicator> communicator(int r) const {
    if (r < 0 || r >= state_->ranks)
      throw invalid_argument("thread_ranks::communicator: rank " + std::to_string(r) + " out of range");
    return std::make_shared<endpoint>(state_, r);
  }

  /// Runs body(rank) on one thread per rank and joins them; rethrows the exception of the
  /// lowest rank that threw, after every thread has ended.
  template <class Body>
  void run(Body&& body) const {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(state_->ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < state_->ranks; ++r)
      threads.emplace_back([&, r] {
        try {
          body(r);
        } catch (...) {
          errors[static_cast<std::size_t>(r)] = std::current_exception();
        }
      });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

 private:
  struct state {
    int ranks = 0;
    std::vector<std::string> hosts;
    std::mutex mutex;
    std::condition_variable arrived;
    std::map<std::pair<int, int>, std::deque<std::vector<char>>> mail;  // (from, to) -> messages in order
  };

  class endpoint final : public shard::communicator {
   public:
    endpoint(std::shared_ptr<state> s, int rank) : state_(std::move(s)), rank_(rank) {}
    int rank() const noexcept override { return rank_; }
    int size() const noexcept override { return state_->ranks; }
    std::string host_name() const override { return state_->hosts[static_cast<std::size_t>(rank_)]; }

    bool exchange(const std::vector<outgoing>& sends, const std::vector<incoming>& receives,
                  time_point deadline) override {
      for (const auto& m : sends) check_peer(m.peer, "send to");
      for (const auto& m : receives) check_peer(m.peer, "receive from");
      {
        // Sends are eager: copied into the peer's mailbox at once, so no rank waits on a send.
        std::lock_guard<std::mutex> lock(state_->mutex);
        for (const auto& m : sends) {
          const char* p = static_cast<const char*>(m.data);
          state_->mail[{rank_, m.peer}].emplace_back(p, p + m.bytes);
        }
      }
      state_->arrived.notify_all();
      std::unique_lock<std::mutex> lock(state_->mutex);
      for (const auto& m : receives) {
        auto& box = state_->mail[{m.peer, rank_}];
        detail::deferred_wakeups::flush();  // before any wait (core/device.hpp)
        if (!state_->arrived.wait_until(lock, deadline, [&] { return !box.empty(); })) return false;
        const std::vector<char> message = std::move(box.front());
        box.pop_front();
        if (message.size() != m.bytes)
          throw error("thread_ranks: rank " + std::to_string(rank_) + " expected " + std::to_string(m.bytes) +
                      " bytes from rank " + std::to_string(m.peer) + " and received " +
                      std::to_string(message.size()));
        if (m.bytes != 0) std::memcpy(m.data, message.data(), m.bytes);
      }
      return true;
    }

   private:
    void check_peer(int peer, const char* what) const {
      if (peer < 0 || peer >= state_->ranks || peer == rank_)
        throw invalid_argument("thread_ranks: rank " + std::to_string(rank_) + " cannot " + what + " rank " +
                               std::to_string(peer));
    }
    std::shared_ptr<state> state_;
    int rank_;
  };

  std::shared_ptr<state> state_;
};

SHARD_NAMESPACE_END
