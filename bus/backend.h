// The bus's one backend interface: what keid's embedded broker and the NATS
// JetStream backend both implement, so the Bus service, the WebSocket topics
// and KEIBusClient never care which engine carries the messages.
// Semantics (docs/bus.md): ephemeral subscriptions are at-most-once fan-out;
// durable consumer groups are at-least-once with competing consumers, an ack
// deadline, redelivery with backoff, max deliveries and then a dead-letter
// topic; order is per topic; publishes are de-duplicated by envelope id within
// a window; requests go to live subscribers only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bus/arena_batch.h"
#include "kei/bus/v1/bus.pb.h"

namespace kei::bus {

// A stored (or, for requests and replies, routed) message. Its envelope is
// either parsed, living beside the message for as long as it does (in the
// same allocation, NewMessage), or serialized: the bytes the publisher sent,
// kept by whoever made the message (the embedded broker keeps each publish
// batch's bytes, and its messages point into them).
struct Message {
  explicit Message(v1::Envelope* envelope) : envelope_(envelope) {}
  // `envelope_bytes` must be a valid serialized Envelope (bus/wire_scan.h)
  // and `id` its id, a slice of those bytes.
  Message(absl::string_view envelope_bytes, absl::string_view id)
      : bytes_(envelope_bytes), id_(id) {}
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  // The envelope, in either form: a copy, or the bytes parsed. (Not kept:
  // retention counts a serialized message by its bytes.)
  v1::Envelope envelope() const;
  // The parsed envelope; null when the message holds it serialized.
  const v1::Envelope* parsed() const { return envelope_; }
  // Parsed envelopes only.
  v1::Envelope& mutable_envelope();
  absl::string_view id() const { return serialized() ? id_ : envelope_->id(); }
  bool serialized() const { return envelope_ == nullptr; }
  // Serialized envelopes only: the bytes.
  absl::string_view envelope_bytes() const { return bytes_; }
  // The envelope's serialized size.
  size_t envelope_size() const { return serialized() ? bytes_.size() : envelope_->ByteSizeLong(); }

  std::string topic;
  uint64_t sequence = 0;  // position in the log; 0 when never stored
  absl::Time publish_time;
  std::string reply_to;  // request messages only

 private:
  v1::Envelope* envelope_ = nullptr;
  absl::string_view bytes_;
  absl::string_view id_;
};
using MessagePtr = std::shared_ptr<const Message>;

// A message with an empty envelope of its own, in one allocation.
std::shared_ptr<Message> NewMessage();
// A message holding `envelope_bytes` (a valid serialized Envelope, with its
// id at `id_offset`, `id_size` bytes long), in one allocation.
std::shared_ptr<Message> NewSerializedMessage(std::string envelope_bytes, size_t id_offset,
                                              size_t id_size);
// A copy of `message` (envelope included, in the same form) that owns its
// envelope.
std::shared_ptr<Message> CopyMessage(const Message& message);

struct Delivery {
  MessagePtr message;
  std::string ack_id;  // group deliveries only
  uint32_t attempt = 1;
};

struct StartPosition {
  enum class Kind { kNew, kAll, kSequence, kTime };
  Kind kind = Kind::kNew;
  uint64_t sequence = 0;  // kSequence: first sequence to deliver
  absl::Time time;        // kTime: first publish time to deliver
};

struct GroupOptions {
  absl::Duration ack_wait = absl::Seconds(30);
  int max_deliveries = 5;                // <= 0: unlimited
  std::vector<absl::Duration> backoff;   // delay before redelivery n (last repeats)
  std::string dead_letter_topic;         // empty: "deadletter.<group>"
  uint32_t max_ack_pending = 1024;       // per group: delivered or awaiting redelivery
};

struct SubscribeSpec {
  std::string pattern;  // topic or wildcard pattern
  std::string group;    // empty: ephemeral
  StartPosition start;
  GroupOptions group_options;
  // Whether request messages reach this subscriber (and count it as a
  // responder); false for subscribers that cannot reply, such as topic
  // frames.
  bool accepts_requests = true;
};

// The most messages one Bus.PublishBatch call may carry (bus.proto).
inline constexpr size_t kMaxPublishBatch = 1000;

struct PublishResult {
  std::string id;
  uint64_t sequence = 0;
  bool duplicate = false;
};

// One subscriber's view: pull deliveries until Close or destruction.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // The newest log sequence when the subscription went live.
  virtual uint64_t last_sequence() const = 0;
  // The oldest sequence the backend still retained then (0: unknown), so a
  // resuming subscriber can tell whether it missed messages.
  virtual uint64_t first_sequence() const { return 0; }
  // Blocks until deliveries are ready (returns up to `max`, in order) or
  // `deadline` passes (returns none). CANCELLED after Close;
  // RESOURCE_EXHAUSTED when an ephemeral subscriber fell so far behind that
  // messages were dropped for it; UNAVAILABLE when the backend went away.
  virtual absl::StatusOr<std::vector<Delivery>> Next(size_t max, absl::Time deadline) = 0;
  // Wakes a blocked Next and ends the subscription; thread-safe.
  // Unacknowledged group deliveries are redelivered to other members.
  virtual void Close() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Stores and routes a message. Fills envelope id (UUID) and time when empty.
  // INVALID_ARGUMENT for a bad topic; RESOURCE_EXHAUSTED past size limits.
  // A topic starting with "_INBOX." is a reply: routed to the waiting
  // requester (FAILED_PRECONDITION / ignored when none), never stored.
  virtual absl::StatusOr<PublishResult> Publish(absl::string_view topic,
                                                v1::Envelope envelope) = 0;

  // Publishes in order, each with its own outcome. The default publishes one
  // by one; backends override it to commit or pipeline the batch together.
  // (The Bus service takes at most kMaxPublishBatch messages per call.)
  virtual std::vector<absl::StatusOr<PublishResult>> PublishBatch(
      std::vector<std::pair<std::string, v1::Envelope>> batch) {
    std::vector<absl::StatusOr<PublishResult>> out;
    out.reserve(batch.size());
    for (auto& [topic, envelope] : batch) out.push_back(Publish(topic, std::move(envelope)));
    return out;
  }

  // The same for a serialized PublishBatchRequest as it came off the wire
  // (what the Bus service publishes). INVALID_ARGUMENT when it does not parse
  // or holds more than kMaxPublishBatch messages. The default parses it into
  // an arena for PublishArenaBatch; the embedded broker keeps the bytes.
  virtual absl::StatusOr<std::vector<absl::StatusOr<PublishResult>>> PublishSerializedBatch(
      std::string batch);

  // The same for a batch in its own arena. The default copies each message
  // out of the arena into PublishBatch; backends override it to publish the
  // messages where they are.
  virtual std::vector<absl::StatusOr<PublishResult>> PublishArenaBatch(ArenaBatch batch) {
    std::vector<std::pair<std::string, v1::Envelope>> copies;
    copies.reserve(batch->messages_size());
    for (const v1::PublishRequest& m : batch->messages()) {
      copies.emplace_back(m.topic(), m.envelope());
    }
    return PublishBatch(std::move(copies));
  }

  // INVALID_ARGUMENT for a bad pattern or options; FAILED_PRECONDITION when a
  // group exists with another pattern.
  virtual absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) = 0;

  // Group deliveries. Unknown, expired or already acknowledged ids are
  // ignored; malformed ones are INVALID_ARGUMENT.
  virtual absl::Status Ack(absl::string_view ack_id) = 0;
  // Redeliver after `delay` (negative: the group's backoff).
  virtual absl::Status Nack(absl::string_view ack_id, absl::Duration delay) = 0;

  // Sends to the topic's live subscribers (ephemeral ones and one member of
  // each group) with a reply_to, and returns the first reply.
  // UNAVAILABLE "no responders" when nobody is subscribed; DEADLINE_EXCEEDED
  // when no reply came by `deadline`.
  virtual absl::StatusOr<MessagePtr> Request(absl::string_view topic, v1::Envelope envelope,
                                             absl::Time deadline) = 0;
};

}  // namespace kei::bus
