// The frames waiting to be written to one WebSocket connection. Any thread may
// push (call handlers, topic publishers); the connection's writer pops. It is
// bounded in bytes: a push that would go over closes the queue with 1013
// (slow consumer) and drops what was queued, so a client that does not read
// costs at most the bound. Closing wakes the writer, which then sends the
// close frame.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>

#include "absl/synchronization/mutex.h"

namespace kei::websocket {

class SendQueue {
 public:
  // `wake` is called (from the pushing thread, without the lock) when the
  // writer should look at the queue again; `on_close` once, when the queue
  // closes (e.g. to bound how long the close handshake may take while the
  // writer is stuck on a client that does not read).
  SendQueue(size_t max_bytes, std::function<void()> wake,
            std::function<void()> on_close = nullptr)
      : max_bytes_(max_bytes), wake_(std::move(wake)), on_close_(std::move(on_close)) {}

  // False once the queue is closed (the frame is dropped).
  bool Push(std::string frame);
  // Closes with a close code and reason (the first close wins).
  void Close(int code, std::string reason);

  // For the writer: moves out everything queued. When nothing is queued it
  // returns false and marks the writer idle, so the next Push wakes it.
  bool PopAll(std::deque<std::string>* out);
  bool closed() const;
  int close_code() const;
  std::string close_reason() const;
  size_t queued_bytes() const;

 private:
  const size_t max_bytes_;
  const std::function<void()> wake_;
  const std::function<void()> on_close_;
  mutable absl::Mutex mu_;
  std::deque<std::string> frames_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writer_idle_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int close_code_ ABSL_GUARDED_BY(mu_) = 0;
  std::string close_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei::websocket
