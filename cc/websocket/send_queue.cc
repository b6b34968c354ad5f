#include "cc/websocket/send_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kei::websocket {

bool SendQueue::Push(std::string frame) {
  bool wake = false;
  bool closed_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    if (bytes_ + frame.size() > max_bytes_ && !frames_.empty()) {
      closed_ = true;
      close_code_ = 1013;
      close_reason_ = absl::StrCat("slow consumer: over ", max_bytes_, " bytes queued");
      frames_.clear();
      bytes_ = 0;
      closed_now = true;
    } else {
      bytes_ += frame.size();
      frames_.push_back(std::move(frame));
    }
    wake = writer_idle_;
    writer_idle_ = false;
  }
  if (wake) wake_();
  if (closed_now && on_close_) on_close_();
  return !closed_now;
}

void SendQueue::Close(int code, std::string reason) {
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    wake = writer_idle_;
    writer_idle_ = false;
  }
  if (wake) wake_();
  if (on_close_) on_close_();
}

bool SendQueue::PopAll(std::deque<std::string>* out) {
  absl::MutexLock lock(&mu_);
  if (frames_.empty()) {
    writer_idle_ = !closed_;
    return false;
  }
  out->swap(frames_);
  frames_.clear();
  bytes_ = 0;
  return true;
}

bool SendQueue::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

int SendQueue::close_code() const {
  absl::MutexLock lock(&mu_);
  return close_code_;
}

std::string SendQueue::close_reason() const {
  absl::MutexLock lock(&mu_);
  return close_reason_;
}

size_t SendQueue::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace kei::websocket
