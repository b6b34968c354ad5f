// The bus's scale-out backend: kei::bus::Backend over NATS JetStream, so any
// number of keid instances (and plain NATS clients) share one bus.
//
// Mapping onto NATS (prefix = subject_prefix, default "kei"):
// - One stream (stream_name) stores every topic: subjects "<prefix>.msg.>",
//   de-duplication by the Nats-Msg-Id header within duplicate_window,
//   retention by the limits below. The stream sequence is the bus sequence.
// - Publish(topic): JetStream publish to "<prefix>.msg.<topic>" with
//   Nats-Msg-Id = envelope id; the envelope travels in CloudEvents binary mode
//   (bus/nats/envelope_headers.h). A topic under "_INBOX." is a reply: a core
//   publish to exactly that subject, never stored (sequence 0). PublishBatch
//   does the same for each message, pipelined (asynchronous JetStream
//   publishes: one round trip for the batch, sequences in batch order).
// - Ephemeral Subscribe: an ordered JetStream push consumer filtered on
//   "<prefix>.msg.<pattern>", starting after the stream's last sequence (kNew),
//   at its start (kAll), at a sequence or at a time; at most once, so every
//   delivery has its stream sequence and publish time and duplicates never
//   reach subscribers. Deliveries queue in the subscription (up to 65536
//   messages or 64 MiB); past that they are dropped and the next Next returns
//   RESOURCE_EXHAUSTED once. (libnats 3.4.1 cannot encode every start time:
//   kTime consumers may start up to 0.1 s early and the subscription skips
//   what is older, acknowledging it unseen for groups.)
// - Group Subscribe: a durable pull consumer named after the group (names are
//   [A-Za-z0-9_-]{1,64}), filtered on "<prefix>.msg.<pattern>", explicit acks,
//   MaxAckPending = max_ack_pending. The group's options are kept in the
//   consumer's description: the first subscriber's settings win, in every
//   process. Backoff: JetStream's BackOff is set to ack_wait + backoff[i], so a
//   missed ack deadline is followed by the backoff delay (the ack deadline of
//   attempt n is thus ack_wait + backoff[n-1]: a late ack within the backoff
//   still counts). Next pulls at most `max` messages with the pull's expiry at
//   its deadline (renewed after a reconnect). max_deliveries is enforced
//   here: a message fetched for attempt max_deliveries + 1 is published to
//   the dead-letter topic (same envelope plus extensions keiorigtopic,
//   keiorigsequence, keigroup) and terminated (+TERM), never handed out.
//   Close negatively acknowledges what the member still holds, so other
//   members get it at once.
// - Ack id = the delivery's JetStream ack subject ("$JS.ACK...."); Ack and Nack
//   core-publish "+ACK" / "-NAK" (with {"delay": ns}) to it, from any
//   connection. Nack with a negative delay applies the group's backoff for the
//   attempt recorded in the ack id.
// - Requests: core request to "<prefix>.req.<topic>"; every subscription also
//   subscribes there (a group as a NATS queue group, so one member answers).
//   No subscriber: UNAVAILABLE "no responders"; no reply: DEADLINE_EXCEEDED.
// - Errors: connection trouble UNAVAILABLE with the NATS text; bad arguments
//   INVALID_ARGUMENT. The connection reconnects forever; a backend's
//   destruction ends its subscriptions (UNAVAILABLE) and closes the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bus/backend.h"

namespace kei::bus {

namespace nats {
class NatsConnection;
}  // namespace nats

struct NatsBackendOptions {
  std::string url = "nats://127.0.0.1:4222";
  std::string stream_name = "KEI";
  std::string subject_prefix = "kei";
  absl::Duration duplicate_window = absl::Minutes(2);
  enum class Storage { kFile, kMemory };
  Storage storage = Storage::kFile;
  // Stream retention; zero means unlimited.
  absl::Duration max_age = absl::ZeroDuration();
  int64_t max_bytes = 0;
  int64_t max_msgs = 0;
  absl::Duration connect_timeout = absl::Seconds(5);
  // How long JetStream API calls and publish acknowledgements may take.
  absl::Duration request_timeout = absl::Seconds(5);
};

class NatsBackend final : public Backend {
 public:
  // Connects and creates the stream, or updates it to these options.
  // UNAVAILABLE when the server cannot be reached or has no JetStream.
  static absl::StatusOr<std::unique_ptr<NatsBackend>> Connect(NatsBackendOptions options);
  ~NatsBackend() override;

  absl::StatusOr<PublishResult> Publish(absl::string_view topic, v1::Envelope envelope) override;
  // Pipelined: one JetStream round trip for the whole batch.
  std::vector<absl::StatusOr<PublishResult>> PublishBatch(
      std::vector<std::pair<std::string, v1::Envelope>> batch) override;
  // The same, encoding the envelopes where they are in the batch's arena.
  std::vector<absl::StatusOr<PublishResult>> PublishArenaBatch(ArenaBatch batch) override;
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) override;
  absl::Status Ack(absl::string_view ack_id) override;
  absl::Status Nack(absl::string_view ack_id, absl::Duration delay) override;
  absl::StatusOr<MessagePtr> Request(absl::string_view topic, v1::Envelope envelope,
                                     absl::Time deadline) override;

 private:
  explicit NatsBackend(std::shared_ptr<nats::NatsConnection> connection)
      : connection_(std::move(connection)) {}
  // Publishes n messages, the i-th being at(i) (its topic and envelope, which
  // gets its defaults filled in place), in order: replies and refused topics
  // one by one, the rest as one pipelined batch.
  std::vector<absl::StatusOr<PublishResult>> PublishInOrder(
      size_t n, absl::FunctionRef<std::pair<absl::string_view, v1::Envelope*>(size_t)> at);

  std::shared_ptr<nats::NatsConnection> connection_;
};

}  // namespace kei::bus
