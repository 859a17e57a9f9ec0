#pragma once
/// @file core/ranks.hpp
/// What an SPMD context (one that spans several processes, "ranks") knows about its ranks:
/// its communicator, which rank drives which shard (numbered rank by rank: rank 0's shards
/// first), and the records the ranks exchange to agree on the outcome of every step (see
/// context_impl::agree). Plain data and serialisation only; the context drives it.
#include <shard/config.hpp>
#include <shard/communicator.hpp>
#include <shard/error.hpp>
#include <shard/topology.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

SHARD_NAMESPACE_BEGIN
namespace detail {

/// Copies `text` into a fixed field, cut to fit, always terminated.
template <std::size_t N>
void put_text(char (&field)[N], const std::string& text) {
  const std::size_t n = std::min(text.size(), N - 1);
  std::memcpy(field, text.data(), n);
  field[n] = '\0';
}

/// One rank's word on one step, exchanged by every rank (all_gather_v) before any rank moves
/// on: whether the step failed here, and the shape of the step as this rank sees it (what it
/// is about to send, or the arguments of the call), so that ranks called with different
/// arguments find out together instead of waiting for messages that never come.
struct outcome_record {
  enum status_code : std::uint32_t { ok = 0, failed = 1, out_of_memory = 2, invalid_argument = 3, timeout = 4 };
  std::uint32_t status = ok;
  std::uint32_t reserved = 0;
  std::uint64_t shape_hash = 0;
  char shape[104] = {};
  char message[392] = {};
};
static_assert(sizeof(outcome_record) == 512);

/// FNV-1a: the shape's fingerprint (equal shapes, equal hashes).
inline std::uint64_t fingerprint(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline outcome_record make_outcome(std::exception_ptr failure, const std::string& shape) {
  outcome_record r;
  r.shape_hash = fingerprint(shape);
  put_text(r.shape, shape);
  if (!failure) return r;
  r.status = outcome_record::failed;
  try {
    std::rethrow_exception(failure);
  } catch (const shard::out_of_memory& e) {
    r.status = outcome_record::out_of_memory;
    put_text(r.message, e.what());
  } catch (const shard::invalid_argument& e) {
    r.status = outcome_record::invalid_argument;
    put_text(r.message, e.what());
  } catch (const shard::timeout& e) {
    r.status = outcome_record::timeout;
    put_text(r.message, e.what());
  } catch (const std::exception& e) {
    put_text(r.message, e.what());
  } catch (...) {
    put_text(r.message, "an exception that is not a std::exception");
  }
  return r;
}

/// One shard's device properties as they travel between ranks (topology of an SPMD context).
struct shard_record {
  std::int32_t ordinal = 0, multiprocessors = 0, compute_major = 0, compute_minor = 0;
  std::uint64_t memory_bytes = 0;
  std::uint32_t backend = 0, reserved = 0;
  char name[96] = {};
  char bus_id[32] = {};
  char host[64] = {};
};

inline shard_record make_shard_record(const device_properties& p, std::uint32_t backend_kind, const std::string& host) {
  shard_record r;
  r.ordinal = p.ordinal;
  r.multiprocessors = p.multiprocessors;
  r.compute_major = p.compute_major;
  r.compute_minor = p.compute_minor;
  r.memory_bytes = p.memory_bytes;
  r.backend = backend_kind;
  put_text(r.name, p.name);
  put_text(r.bus_id, p.bus_id);
  put_text(r.host, host);
  return r;
}

inline device_properties properties_of(const shard_record& r, int rank) {
  device_properties p;
  p.ordinal = r.ordinal;
  p.multiprocessors = r.multiprocessors;
  p.compute_major = r.compute_major;
  p.compute_minor = r.compute_minor;
  p.memory_bytes = r.memory_bytes;
  p.name = r.name;
  p.bus_id = r.bus_id;
  p.rank = rank;
  p.host = r.host;
  return p;
}

/// The ranks of an SPMD context.
struct rank_state {
  std::shared_ptr<communicator> comm;
  int rank = 0, ranks = 1;
  /// first[r]: rank r's first shard; first[ranks] = the shard count. Rank r drives the shards
  /// [first[r], first[r + 1]).
  std::vector<std::size_t> first;
  /// Per shard: the rank that drives it.
  std::vector<int> rank_of;
  /// Per rank: the machine it runs on.
  std::vector<std::string> hosts;
  /// The failure the ranks last agreed on: a handler that sees it again (propagating) must
  /// not ask the other ranks once more.
  std::exception_ptr agreed;
};

}  // namespace detail
SHARD_NAMESPACE_END
