#include "cc/dispatch/cancellation.h"

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

bool CancellationToken::WaitUntil(absl::Time deadline) const {
  absl::MutexLock lock(&state_->mu);
  auto cancelled = [s = state_.get()] {
    return s->cancelled.load(std::memory_order_acquire);
  };
  state_->mu.AwaitWithDeadline(absl::Condition(&cancelled), deadline);
  return cancelled();
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
