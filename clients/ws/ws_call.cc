#include "clients/ws/ws_call.h"

namespace kei::ws {

void WsCall::OnFrame(const Frame& frame) {
  absl::MutexLock lock(&mu_);
  if (done_) return;
  const std::string& type = frame.frame.type();
  if (type == kMessageFrame) {
    messages_.push_back(CallMessageOf(frame));
  } else if (type == kResponseFrame) {
    messages_.push_back(CallMessageOf(frame));
    done_ = true;
  } else if (type == kEndFrame || type == kErrorFrame) {
    done_ = true;
    status_ = StatusFromFrame(frame.frame);
  } else if (type == kCreditFrame) {
    send_credit_ += frame.frame.credit();
  }
}

void WsCall::Fail(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (done_) return;
  done_ = true;
  status_ = std::move(status);
}

std::optional<CallMessage> WsCall::NextMessage(absl::Time deadline, bool* timed_out) {
  *timed_out = false;
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !messages_.empty() || done_; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
    *timed_out = true;
    return std::nullopt;
  }
  if (messages_.empty()) return std::nullopt;
  CallMessage message = std::move(messages_.front());
  messages_.pop_front();
  return message;
}

bool WsCall::WaitDone(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(&done_), deadline);
}

bool WsCall::TakeSendCredit(absl::Time deadline, bool* timed_out) {
  *timed_out = false;
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return send_credit_ > 0 || done_; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
    *timed_out = true;
    return false;
  }
  if (done_) return false;
  --send_credit_;
  return true;
}

bool WsCall::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

absl::Status WsCall::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

}  // namespace kei::ws
