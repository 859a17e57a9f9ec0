#pragma once
/// @file error.hpp
/// Exceptions thrown by shard at its public boundary.
#include <shard/config.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

SHARD_NAMESPACE_BEGIN

/// Base of every exception shard throws. Carries the shard and device the failure happened
/// on (-1 when it concerns none) and the call that failed (empty when none).
class error : public std::runtime_error {
 public:
  explicit error(const std::string& message, int shard = -1, int device = -1, std::string call = {})
      : std::runtime_error(compose(message, shard, device, call)),
        shard_(shard),
        device_(device),
        call_(std::move(call)) {}

  /// Shard index the failure happened on, or -1.
  int shard() const noexcept { return shard_; }
  /// Device ordinal (CUDA ordinal, or the emulated device's index), or -1.
  int device() const noexcept { return device_; }
  /// The runtime call or operation that failed, e.g. "cudaMallocFromPoolAsync".
  const std::string& call() const noexcept { return call_; }

 private:
  static std::string compose(const std::string& message, int shard, int device, const std::string& call) {
    std::string s = "shard: ";
    if (!call.empty()) {
      s.append(call);
      s.append(" failed");
      if (shard >= 0) s.push_back(' ');
    }
    if (shard >= 0) {
      s.append("on shard ");
      s.append(std::to_string(shard));
    }
    if (device >= 0) {
      s.append(" (device ");
      s.append(std::to_string(device));
      s.push_back(')');
    }
    if (!call.empty() || shard >= 0 || device >= 0) s.append(": ");
    s.append(message);
    return s;
  }
  int shard_;
  int device_;
  std::string call_;
};

/// A shard's memory could not satisfy an allocation (a full GPU, or an emulated device over
/// its capacity). Derives from shard::error, not std::bad_alloc: deriving from both would
/// make `catch (const std::exception&)` ambiguous.
class out_of_memory : public error {
 public:
  out_of_memory(int shard, int device, std::size_t requested, std::size_t free_bytes, std::string call)
      : error("out of memory: requested " + std::to_string(requested) + " bytes, " +
                  std::to_string(free_bytes) + " bytes free",
              shard, device, std::move(call)),
        requested_(requested),
        free_(free_bytes) {}
  /// Bytes the failed allocation asked for.
  std::size_t requested() const noexcept { return requested_; }
  /// Bytes the device reported free when it failed.
  std::size_t free_bytes() const noexcept { return free_; }

 private:
  std::size_t requested_;
  std::size_t free_;
};

/// Bad input: size mismatch, vectors of different contexts, device ordinal out of range,
/// empty device list, a distribution that does not fit the vector, ...
class invalid_argument : public error {
 public:
  explicit invalid_argument(const std::string& message) : error(message) {}
};

/// A device fault: a kernel hit an illegal address, a trap or a hardware error. On a GPU such
/// an error is sticky: that device's CUDA context stays broken for the rest of the process,
/// and every later call on it fails with the same error. shard reports it with the shard,
/// the device and the runtime's message; what a user can do next is in docs/design.md
/// ("Faults and timeouts"): keep using contexts on other devices, end the process to use
/// that device again. The host backend emulates it (testing::inject_device_fault).
class device_fault : public error {
 public:
  device_fault(const std::string& message, int shard, int device, std::string call)
      : error(message + " (a sticky device fault: the device is unusable for the rest of the process)", shard, device,
              std::move(call)) {}
};

/// A wait on the shards passed the context's deadline (context::set_wait_timeout, or the
/// environment variable SHARD_WAIT_TIMEOUT). The context is unusable afterwards: its collective
/// communicators are aborted, and every later call on it throws shard::error.
class timeout : public error {
 public:
  timeout(const std::string& message, int shard, int device) : error(message, shard, device, "wait") {}
};

SHARD_NAMESPACE_END
