#include "cc/dispatch/cancellation.h"

#include <algorithm>
#include <utility>

namespace kei {

CancellationToken::CancellationToken() : state_(std::make_shared<State>()) {}

void CancellationToken::Cancel() const {
  std::vector<std::function<void()>> callbacks;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->cancelled.exchange(true, std::memory_order_acq_rel)) return;
    callbacks.swap(state_->callbacks);
  }
  for (auto& cb : callbacks) cb();
}

bool CancellationToken::IsCancelled() const {
  if (state_->cancelled.load(std::memory_order_acquire)) return true;
  if (state_->probe && state_->probe()) {
    Cancel();
    return true;
  }
  return false;
}

bool CancellationToken::WaitUntil(absl::Time deadline) const {
  // How often a probe is asked while waiting.
  constexpr absl::Duration kProbeInterval = absl::Milliseconds(10);
  auto cancelled = [s = state_.get()] {
    return s->cancelled.load(std::memory_order_acquire);
  };
  while (true) {
    absl::Time until = state_->probe ? std::min(deadline, absl::Now() + kProbeInterval)
                                     : deadline;
    {
      absl::MutexLock lock(&state_->mu);
      if (state_->mu.AwaitWithDeadline(absl::Condition(&cancelled), until)) return true;
    }
    if (IsCancelled()) return true;
    if (absl::Now() >= deadline) return false;
  }
}

void CancellationToken::OnCancel(std::function<void()> callback) const {
  {
    absl::MutexLock lock(&state_->mu);
    if (!state_->cancelled.load(std::memory_order_acquire)) {
      state_->callbacks.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

}  // namespace kei
