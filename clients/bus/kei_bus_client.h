// KEIBusClient: the typed client of the KEI bus (kei.bus.v1.Bus, docs/bus.md)
// over any Transport that carries unary calls and server streams: gRPC
// (grpc://, grpcs://) and the WebSocket frame protocol (ws://, wss://).
// Publish, subscribe (ephemeral or in a durable consumer group) with an
// iterator or a handler, ack and nack, request/reply, and agent messages.
// Every method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/retry/retry_policy.h"
#include "clients/call_options.h"
#include "clients/client_config.h"
#include "clients/transport.h"
#include "google/protobuf/message.h"
#include "kei/bus/v1/bus.pb.h"

namespace kei {

// Subscription settings. The fields mirror kei.bus.v1.SubscribeRequest; zero
// values leave the server's defaults.
struct SubscribeOptions {
  // Empty: an ephemeral subscription (at-most-once fan-out, nothing to ack).
  // Otherwise the durable consumer group to join (at-least-once, competing
  // consumers, acks). The group's first subscriber fixes its settings.
  std::string group;
  // Where reading starts (default: new messages only); see the Start* helpers.
  bus::v1::StartPosition start;
  // Groups: how long a delivery may stay unacknowledged before it is
  // redelivered (zero: the server's 30 s).
  absl::Duration ack_wait = absl::ZeroDuration();
  // Groups: deliveries of one message before it is dead-lettered (0: the
  // server's 5; negative: unlimited).
  int32_t max_deliveries = 0;
  // Groups: the delay before the n-th redelivery; the last one repeats
  // (empty: redeliver at once).
  std::vector<absl::Duration> backoff;
  // Groups: where messages go after max_deliveries (empty: "deadletter.<group>").
  std::string dead_letter_topic;
  // Groups: messages the group may have unacknowledged at once, delivered or
  // waiting for redelivery (0: the server's 1024; 1: strict order).
  uint32_t max_ack_pending = 0;
  // Handler style, groups: ack each delivery once its handler returned (not
  // when it threw). A failed ack leaves the delivery to be redelivered after
  // ack_wait, as with any unacknowledged delivery.
  bool auto_ack = false;
  // Iterator style: deliveries buffered ahead of Next. While the buffer is
  // full the client stops reading, so gRPC or WebSocket flow control holds
  // the server back.
  size_t buffer = 256;
  // How long Subscribe waits for the server to confirm the subscription.
  absl::Duration subscribe_timeout = absl::Seconds(10);

  SubscribeOptions& StartNew();                          // new messages only
  SubscribeOptions& StartAll();                          // every retained one
  SubscribeOptions& StartAtSequence(uint64_t sequence);  // this sequence on
  SubscribeOptions& StartAtTime(absl::Time time);        // published at `time` on
};

// A live subscription, returned by KEIBusClient::Subscribe once the server
// confirmed it. One reader thread per subscription reads the server stream:
// into a bounded buffer for Next (iterator style) or straight into the
// handler (handler style: in order, on that thread, so a handler may block,
// which holds the server back, and may call the client; it must not destroy
// its own subscription, though Close is fine; the delivery it gets is valid
// only during the call, so it copies what it keeps). It ends on Close, on
// destruction, or when the server ends the stream. Thread-safe.
class BusSubscription {
 public:
  using Handler = std::function<void(const bus::v1::Delivery&)>;

  // Closes, then waits for the reader thread (and a handler that is running).
  ~BusSubscription();
  BusSubscription(const BusSubscription&) = delete;
  BusSubscription& operator=(const BusSubscription&) = delete;

  // Iterator style: the next delivery, in order, or nullopt when none came
  // within `timeout`. Once the stream ended (and the buffer is empty), its
  // final status: CANCELLED after Close, the server's error, or UNAVAILABLE
  // when the server ended the subscription. FAILED_PRECONDITION with a handler.
  absl::StatusOr<std::optional<bus::v1::Delivery>> Next(
      absl::Duration timeout = absl::InfiniteDuration());
  // Waits up to `timeout` for the stream to end: its final status (as Next
  // gives it), or nullopt while it is live.
  std::optional<absl::Status> Wait(absl::Duration timeout = absl::InfiniteDuration());
  // Cancels the stream and drops buffered deliveries (unacknowledged group
  // deliveries go to the group's other members); no further handler call
  // starts. Idempotent.
  void Close();
  // The newest sequence in the bus log when the subscription went live (from
  // the server's `subscribed` marker): with StartAll, deliveries up to it are
  // the backlog.
  uint64_t last_sequence() const;
  // Handler style: handler calls that threw (the subscription carries on).
  uint64_t handler_errors() const;

 private:
  friend class KEIBusClient;
  BusSubscription(std::unique_ptr<ClientStream> stream, size_t buffer, Handler handler);
  // OK once the server's `subscribed` marker came; the stream's status if it
  // ended first; DEADLINE_EXCEEDED when neither happened by `deadline`.
  absl::Status AwaitSubscribed(absl::Time deadline);
  void ReaderLoop();
  void Dispatch(bus::v1::SubscribeResponse& response);

  const std::unique_ptr<ClientStream> stream_;
  const size_t buffer_;
  const Handler handler_;  // empty: iterator style
  mutable absl::Mutex mu_;
  std::deque<bus::v1::Delivery> queue_ ABSL_GUARDED_BY(mu_);
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // closed_, for the handler loop to check before each delivery without the lock.
  std::atomic<bool> closing_{false};
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t handler_errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread reader_;
};

// Envelopes around a payload, for Publish, Request and Reply:
// a protobuf message packed into proto_data (datacontenttype
// "application/protobuf", type = the message's full name) ...
bus::v1::Envelope ProtoEnvelope(const google::protobuf::Message& payload);
// ... or any bytes in binary_data with their content type (taken, not copied).
bus::v1::Envelope DataEnvelope(std::string data, absl::string_view content_type);

// Agent messaging convention: agent <name> receives its messages on the topic
// "agent.<name>.inbox" (so `agent.*.inbox` sees every agent's inbox), and
// sends with source "kei://agent/<name>", so a receiver knows where to answer.
// <name> is one topic token: [A-Za-z0-9_-]+.
std::string AgentInboxTopic(absl::string_view agent);

class KEIBusClient {
 public:
  // Unary calls and subscriptions that set no deadline get the transport's
  // ClientConfig::default_timeout, so a transport for long-lived
  // subscriptions needs default_timeout = InfiniteDuration (Connect does so).
  explicit KEIBusClient(std::shared_ptr<Transport> transport, RetryPolicy retry = {});

  // Connects by URL through ProtocolClientFactory::Default(): grpc://,
  // grpcs://, ws://, wss://. Unary calls without a deadline get
  // config.default_timeout; subscriptions live until closed.
  static absl::StatusOr<std::unique_ptr<KEIBusClient>> Connect(absl::string_view url,
                                                               const ClientConfig& config = {});

  // Publishes `envelope` on `topic`. An empty id is filled with a random UUID
  // (and an empty time with now) before the first attempt, so every retry
  // carries the same id and the server de-duplicates it: that is what makes
  // Publish safe to retry although it is not idempotent by nature.
  absl::StatusOr<bus::v1::PublishResponse> Publish(const std::string& topic,
                                                   bus::v1::Envelope envelope,
                                                   const CallOptions& options = {});
  // Publishes several messages in one call, each with its own outcome (see
  // BusPublisher for a pipeline that batches on its own). Ids are filled as
  // in Publish, so the call is retried the same way.
  absl::StatusOr<bus::v1::PublishBatchResponse> PublishBatch(bus::v1::PublishBatchRequest request,
                                                             const CallOptions& options = {});
  // Opens Bus.PublishStream, which BusPublisher pipelines over: write
  // PublishBatchRequests whose envelopes have their ids (FillEnvelopeDefaults),
  // read one PublishBatchResponse per batch, in order; one thread may write
  // while another reads. `options` give metadata and, if set, a deadline for
  // the whole stream.
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenPublishStream(const CallOptions& options = {});
  // Publishes ProtoEnvelope(payload).
  absl::StatusOr<bus::v1::PublishResponse> Publish(const std::string& topic,
                                                   const google::protobuf::Message& payload,
                                                   const CallOptions& options = {});
  // Publishes DataEnvelope(data, content_type).
  absl::StatusOr<bus::v1::PublishResponse> Publish(const std::string& topic,
                                                   absl::string_view data,
                                                   absl::string_view content_type,
                                                   const CallOptions& options = {});

  // Subscribes to a topic or pattern (`*` one token, a final `>` the rest) and
  // returns once the server confirmed it, so a message published after that
  // is delivered. Iterator style: read with Next. Opening is retried by the
  // retry policy (it has no effect until confirmed). `options.deadline` or
  // `timeout` bound the whole subscription.
  absl::StatusOr<std::unique_ptr<BusSubscription>> Subscribe(const std::string& topic,
                                                             SubscribeOptions subscribe,
                                                             const CallOptions& options = {});
  // Handler style: `handler` gets every delivery, in order, on the
  // subscription's reader thread (see BusSubscription).
  absl::StatusOr<std::unique_ptr<BusSubscription>> Subscribe(const std::string& topic,
                                                             SubscribeOptions subscribe,
                                                             BusSubscription::Handler handler,
                                                             const CallOptions& options = {});

  // Acknowledges group deliveries; unknown or expired ids are ignored, so
  // acks are idempotent and retried.
  absl::Status Ack(const std::vector<std::string>& ack_ids, const CallOptions& options = {});
  // FAILED_PRECONDITION for a delivery without ack_id (not from a group).
  absl::Status Ack(const bus::v1::Delivery& delivery, const CallOptions& options = {});
  // Asks for a redelivery after `delay` (negative: the group's backoff).
  // Idempotent and retried.
  absl::Status Nack(const std::vector<std::string>& ack_ids,
                    absl::Duration delay = absl::Seconds(-1), const CallOptions& options = {});
  absl::Status Nack(const bus::v1::Delivery& delivery, absl::Duration delay = absl::Seconds(-1),
                    const CallOptions& options = {});

  // Sends `envelope` to the topic's live subscribers and returns the first
  // reply, waiting up to `timeout` (the call's deadline). UNAVAILABLE when
  // nobody subscribes to the topic, DEADLINE_EXCEEDED when nobody answered.
  // Never resent once it may have reached the server (whatever
  // options.idempotent says): a request's outcome is unknown after a failure.
  absl::StatusOr<bus::v1::Delivery> Request(const std::string& topic,
                                            bus::v1::Envelope envelope, absl::Duration timeout,
                                            const CallOptions& options = {});
  // Publishes `reply` to request.reply_to(); FAILED_PRECONDITION when the
  // delivery is not a request.
  absl::Status Reply(const bus::v1::Delivery& request, bus::v1::Envelope reply,
                     const CallOptions& options = {});

  // Publishes ProtoEnvelope(payload) to AgentInboxTopic(target) with CloudEvents
  // type `type` and this client's source(). INVALID_ARGUMENT for a target that
  // is not one topic token.
  absl::StatusOr<bus::v1::PublishResponse> SendAgentMessage(
      const std::string& target, const std::string& type,
      const google::protobuf::Message& payload, const CallOptions& options = {});
  // The same with a JSON payload (binary_data, "application/json");
  // INVALID_ARGUMENT when `json` is not JSON.
  absl::StatusOr<bus::v1::PublishResponse> SendAgentMessage(const std::string& target,
                                                            const std::string& type,
                                                            absl::string_view json,
                                                            const CallOptions& options = {});

  // The source SendAgentMessage sends with; default "kei://agent/<program
  // name>". Set "kei://agent/<name>" to be answerable at agent.<name>.inbox.
  void set_source(std::string source);
  std::string source() const;

  Transport& transport() { return *transport_; }
  // `options` with the client's default timeout when it sets no deadline (as
  // unary calls get it).
  CallOptions WithDefaultTimeout(const CallOptions& options) const;

 private:
  absl::StatusOr<bus::v1::PublishResponse> PublishToAgent(const std::string& target,
                                                          const std::string& type,
                                                          bus::v1::Envelope envelope,
                                                          const CallOptions& options);
  absl::StatusOr<std::unique_ptr<BusSubscription>> Open(const std::string& topic,
                                                        const SubscribeOptions& subscribe,
                                                        BusSubscription::Handler handler,
                                                        const CallOptions& options);

  std::shared_ptr<Transport> transport_;
  RetryPolicy retry_;
  // Set by Connect, whose transport has no default deadline.
  absl::Duration default_timeout_ = absl::InfiniteDuration();
  mutable absl::Mutex source_mu_;
  std::string source_ ABSL_GUARDED_BY(source_mu_);
};

}  // namespace kei
