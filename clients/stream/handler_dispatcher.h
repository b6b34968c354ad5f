// Runs application handlers on one thread of their own, in the order they were
// queued, so the network thread never waits on user code. A handler that
// throws is counted and reported, not fatal.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace kei {

class HandlerDispatcher {
 public:
  // `on_error` hears about handlers that threw (on the dispatch thread).
  explicit HandlerDispatcher(std::function<void(const absl::Status&)> on_error);
  // Runs what is queued, then stops.
  ~HandlerDispatcher();

  // `what` names the handler in error reports.
  void Post(std::string what, std::function<void()> task);
  // Waits until everything queued before the call has run (not from a handler).
  void Drain();
  uint64_t errors() const { return errors_.load(); }

 private:
  void Loop();

  std::function<void(const absl::Status&)> on_error_;
  std::atomic<uint64_t> errors_{0};
  absl::Mutex mu_;
  std::deque<std::pair<std::string, std::function<void()>>> tasks_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t finished_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kei
