// The client's state of one call on a stream connection: the response messages
// that arrived and not yet read, the send credit the server granted, and how
// the call ended. The connection's io thread feeds it frames (never blocking);
// the caller's thread waits on it with a deadline.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/ws/stream_frame_codec.h"

namespace kei::ws {

class WsCall {
 public:
  WsCall(std::string id, uint32_t initial_send_credit)
      : id_(std::move(id)), send_credit_(initial_send_credit) {}

  const std::string& id() const { return id_; }
  // The connection the call runs on.
  uint64_t generation = 0;

  // A frame for this call: message, response, end, error or credit.
  void OnFrame(const Frame& frame);
  // Ends the call with `status` unless it has ended.
  void Fail(absl::Status status);
  // The next response message, once one arrives or the call ends: the
  // message as it was carried, or nullopt with the call over (then status()).
  // `timed_out` is set when `deadline` passed first.
  std::optional<CallMessage> NextMessage(absl::Time deadline, bool* timed_out);
  // Waits until the call has ended (true) or `deadline` passed (false).
  bool WaitDone(absl::Time deadline);
  // Takes one unit of send credit, waiting for the server to grant some: false
  // when the call ended or `deadline` passed first (`timed_out` says which).
  bool TakeSendCredit(absl::Time deadline, bool* timed_out);

  bool done() const;
  absl::Status status() const;

 private:
  const std::string id_;
  mutable absl::Mutex mu_;
  std::deque<CallMessage> messages_ ABSL_GUARDED_BY(mu_);
  uint64_t send_credit_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei::ws
