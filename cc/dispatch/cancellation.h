// Cancellation shared between an adapter (which learns that the caller went
// away) and a handler (which should stop working). Cheap to copy; thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kei {

class CancellationToken {
 public:
  CancellationToken();

  // Marks the call cancelled and runs every callback once. Idempotent.
  void Cancel() const;
  bool IsCancelled() const;
  // Waits until cancelled or `deadline`; true if cancelled.
  bool WaitUntil(absl::Time deadline) const;
  // Runs `callback` on cancellation (at once if already cancelled). Callbacks
  // must be quick; they run on the cancelling thread.
  void OnCancel(std::function<void()> callback) const;

  // For transports that learn of cancellation only when asked (a gRPC unary
  // handler runs before its reactor is bound, so no cancel notification can
  // reach it): IsCancelled and WaitUntil also consult `probe`, and a probe that
  // reports cancellation triggers Cancel(). Set it before the handler runs.
  void SetProbe(std::function<bool()> probe) const { state_->probe = std::move(probe); }

 private:
  struct State {
    std::atomic<bool> cancelled{false};
    absl::Mutex mu;
    std::vector<std::function<void()>> callbacks;
    std::function<bool()> probe;
  };
  std::shared_ptr<State> state_;
};

}  // namespace kei
