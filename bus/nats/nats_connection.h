// What the NATS backend and its subscriptions share: the NATS connection and
// JetStream context, the subject layout, the mapping of NATS errors to
// statuses, JetStream publishing (also used for dead letters), the options of
// known groups, and the live subscriptions to end before the connection
// closes. Shared ownership, so a Subscription that outlives its backend stays
// safe to use (its Next reports UNAVAILABLE).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nats/nats.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "bus/backend.h"
#include "bus/nats/nats_backend.h"

namespace kei::bus::nats {

// A status for a failed NATS call: UNAVAILABLE for connection trouble and
// timeouts, INVALID_ARGUMENT, RESOURCE_EXHAUSTED (payload or stream limits),
// NOT_FOUND, or FAILED_PRECONDITION for other JetStream API errors; the
// message names `what` and carries the library's text.
// `detail` (default: the library's last error on this thread) is appended.
absl::Status NatsError(absl::string_view what, natsStatus status, jsErrCode js_error = jsErrCode{},
                       const char* detail = nullptr);

// Where a JetStream delivery's ack subject (its reply subject) starts.
inline constexpr absl::string_view kAckPrefix = "$JS.ACK.";

// The parts of a JetStream ack subject ("$JS.ACK.<stream>.<consumer>.
// <delivered>.<stream seq>.<consumer seq>.<nanos>.<pending>", or the form with
// domain and account hash tokens) that a delivery's ack id is.
struct AckSubject {
  std::string stream;
  std::string consumer;
  uint32_t delivered = 0;
  uint64_t stream_sequence = 0;
  uint64_t consumer_sequence = 0;
  int64_t timestamp_nanos = 0;
};
std::optional<AckSubject> ParseAckSubject(absl::string_view subject);

// Sets a consumer's deliver policy for `start`; kNew starts right after
// `last_sequence` (the stream's newest when the subscription went live).
// libnats 3.4.1 writes a start time's fraction of a second without its
// leading zeros (".05" becomes ".5"), so a kTime start with a fraction below
// 0.1 s is rounded down to the second: the subscription must skip messages
// published before start.time itself.
void ApplyStart(const StartPosition& start, uint64_t last_sequence, jsConsumerConfig* config);

// Something that must end before the connection closes (a subscription).
class Closable {
 public:
  virtual ~Closable() = default;
  // The backend is going away: end now; Next reports UNAVAILABLE.
  virtual void Shutdown() = 0;
};

class NatsConnection {
 public:
  // Connects and creates (or updates) the stream.
  static absl::StatusOr<std::shared_ptr<NatsConnection>> Open(NatsBackendOptions options);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  natsConnection* nc() const { return nc_; }
  jsCtx* js() const { return js_; }
  const NatsBackendOptions& options() const { return options_; }

  // "<prefix>.msg.<topic>": stored messages; "<prefix>.req.<topic>": requests.
  std::string MsgSubject(absl::string_view topic) const;
  std::string ReqSubject(absl::string_view topic) const;
  // The topic in a stored-message subject, or "" when `subject` is not one.
  std::string TopicOfMsg(absl::string_view subject) const;
  // The topic in a request subject, or "" when `subject` is not one.
  std::string TopicOfReq(absl::string_view subject) const;

  // Stores `envelope` (complete: id and time filled) under `topic`,
  // de-duplicated by `msg_id` within the stream's duplicate window.
  absl::StatusOr<PublishResult> PublishStored(absl::string_view topic, const v1::Envelope& envelope,
                                              const std::string& msg_id);
  // A message to store: its topic and its complete envelope (not owned).
  struct OutgoingMessage {
    absl::string_view topic;
    const v1::Envelope* envelope;
  };
  // As PublishStored for each message, in order and pipelined (one round
  // trip for the lot); de-duplicated by envelope id.
  std::vector<absl::StatusOr<PublishResult>> PublishStoredBatch(
      const std::vector<OutgoingMessage>& messages);
  // Core-publishes `data` to `subject` (acks, naks, pull requests).
  absl::Status PublishRaw(const std::string& subject, absl::string_view data,
                          const std::string& reply = "");

  // The stream's oldest retained and newest sequences (MessageLog style: an
  // empty stream has first == last + 1).
  struct Bounds {
    uint64_t first = 1;
    uint64_t last = 0;
  };
  absl::StatusOr<Bounds> StreamBounds();

  // How often the connection reconnected (pull requests do not survive it).
  uint64_t reconnects() const;

  // Options of groups seen by this process (for Nack's backoff).
  void RememberGroup(const std::string& group, const GroupOptions& options);
  std::optional<GroupOptions> KnownGroup(const std::string& group) const;

  void Register(std::weak_ptr<Closable> subscription);
  // Shuts registered subscriptions down, flushes and closes the connection.
  void Close();

 private:
  NatsConnection(NatsBackendOptions options, natsConnection* nc, jsCtx* js);
  absl::Status EnsureStream();

  const NatsBackendOptions options_;
  const std::string msg_prefix_;  // "<prefix>.msg."
  const std::string req_prefix_;  // "<prefix>.req."
  natsConnection* const nc_;
  jsCtx* const js_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, GroupOptions> groups_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<Closable>> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei::bus::nats
