// KEIStreamClient: the KEI stream client. Application messages by type, topic
// subscriptions and publishes, and typed streams of any proto method, over one
// WebSocket connection to keid (docs/websocket-protocol.md), kept up by
// automatic reconnects with exponential backoff and full jitter. After a
// reconnect every subscription resumes after the last sequence it delivered,
// with the same id and handler: no handler runs twice for one sequence.
//
// With a grpc:// or grpcs:// URL the same API runs over gRPC: topics through
// the kei.v1.Topics service (Subscribe streams, resumed from the last sequence
// when they break; Publish), streams through GrpcTransport. Application
// messages (SendMessage, RegisterHandler) exist only on WebSocket.
//
// Handlers run on one dispatch thread, in arrival order, never on the network
// thread, so they may block or call the client. A handler that throws is
// counted (handler_errors) and reported to on_error; the client carries on.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "clients/call_options.h"
#include "clients/client_config.h"
#include "clients/stream/handler_dispatcher.h"
#include "clients/stream/reconnect_policy.h"
#include "clients/stream/typed_stream.h"
#include "clients/transport.h"
#include "clients/ws/stream_frame_codec.h"
#include "google/protobuf/struct.pb.h"
#include "kei/v1/stream.pb.h"

namespace kei {

class WsTransport;

struct KEIStreamClientOptions {
  // Sent as "authorization: Bearer <token>" (replaces config.bearer_token).
  std::string auth_token;
  // More handshake headers (WebSocket) or call metadata (gRPC).
  Metadata headers;
  absl::Duration ping_interval = absl::Seconds(30);
  absl::Duration ping_timeout = absl::Seconds(10);
  absl::Duration close_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(10);
  size_t max_message_bytes = 1 << 20;
  // Offer permessage-deflate.
  bool compression = false;
  ReconnectPolicy reconnect;
  // How long Subscribe and Publish wait for the server's answer.
  absl::Duration request_timeout = absl::Seconds(10);
  // TLS (wss://, grpcs://), API key and the rest of the client configuration.
  ClientConfig config;
  // Problems no call returns: a handler threw, messages were missed while
  // disconnected (DATA_LOSS), a resubscription failed, reconnecting gave up.
  std::function<void(const absl::Status&)> on_error;
  // Connected (true) or lost (false); runs on the dispatch thread.
  std::function<void(bool connected)> on_connection_change;
};

// One topic message, as a subscription's handler gets it.
struct TopicEvent {
  std::string subscription_id;
  std::string topic;
  uint64_t sequence = 0;
  absl::Time time;
  google::protobuf::Value data;
};

class KEIStreamClient {
 public:
  using FrameHandler = std::function<void(const v1::StreamFrame&)>;
  using TopicHandler = std::function<void(const TopicEvent&)>;

  // ws://host:port[/path], wss://..., grpc://host:port or grpcs://...
  explicit KEIStreamClient(std::string url, KEIStreamClientOptions options = {});
  ~KEIStreamClient();
  KEIStreamClient(const KEIStreamClient&) = delete;
  KEIStreamClient& operator=(const KEIStreamClient&) = delete;

  // Connects (and re-subscribes what was subscribed before a Disconnect).
  // Lost connections then reconnect on their own until Disconnect.
  absl::Status Connect();
  // Closes the connection and stops reconnecting; subscriptions are kept for
  // the next Connect.
  void Disconnect();
  bool IsConnected() const;

  // Incoming frames of `type` (e.g. "welcome", an application type, "error"
  // for errors that belong to no call) go to `handler`; one per type.
  void RegisterHandler(const std::string& type, FrameHandler handler);
  void UnregisterHandler(const std::string& type);
  // Sends an application message: a frame with `type`, a timestamp and `data`.
  absl::Status SendMessage(const std::string& type, const google::protobuf::Value& data);

  // Subscribes to `topic`; `handler` gets every message after `after_sequence`
  // (0: new messages only). Returns the subscription id once the server
  // confirmed it. While reconnecting, it is recorded and sent on reconnect.
  absl::StatusOr<std::string> Subscribe(const std::string& topic, TopicHandler handler,
                                        uint64_t after_sequence = 0);
  absl::Status Unsubscribe(const std::string& subscription_id);
  // Publishes `data` on `topic`; returns the message's sequence.
  absl::StatusOr<uint64_t> Publish(const std::string& topic, const google::protobuf::Value& data);

  // A stream of any registered method ("pkg.Service/Method").
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(absl::string_view method,
                                                           const CallOptions& options = {});
  // Server streaming: sends `request`, then read the responses.
  template <class Request, class Response>
  absl::StatusOr<TypedStream<Request, Response>> OpenServerStream(absl::string_view method,
                                                                  const Request& request,
                                                                  const CallOptions& options = {}) {
    auto stream = OpenStream(method, options);
    if (!stream.ok()) return stream.status();
    if (!(*stream)->Write(request) || !(*stream)->CloseSend()) {
      absl::Status status = (*stream)->Finish();
      return status.ok() ? absl::UnavailableError("the request could not be sent") : status;
    }
    return TypedStream<Request, Response>(*std::move(stream));
  }
  // Client and bidi streaming: Write requests, CloseSend, Read responses.
  template <class Request, class Response>
  absl::StatusOr<TypedStream<Request, Response>> OpenTypedStream(absl::string_view method,
                                                                 const CallOptions& options = {}) {
    auto stream = OpenStream(method, options);
    if (!stream.ok()) return stream.status();
    return TypedStream<Request, Response>(*std::move(stream));
  }

  // Handlers that threw, events dropped as already delivered, reconnects made.
  uint64_t handler_errors() const { return dispatcher_->errors(); }
  uint64_t duplicates_dropped() const { return duplicates_dropped_.load(); }
  int reconnects() const { return reconnects_.load(); }
  // The underlying transport (WsTransport or GrpcTransport).
  std::shared_ptr<Transport> transport() const { return transport_; }
  const std::string& url() const { return url_; }

 private:
  struct Subscription;
  struct PendingReply;
  // Applies the server's confirmation of a subscription (its newest and
  // oldest retained sequence); DATA_LOSS when messages were missed.
  static absl::Status OnSubscribed(Subscription& subscription, uint64_t latest, uint64_t first);

  bool is_ws() const { return ws_ != nullptr; }
  absl::Status Init();
  void ReportError(absl::Status status);
  // WebSocket.
  void OnConnectionChange(bool connected, const absl::Status& why);
  void OnAnyFrame(const ws::Frame& frame);
  void OnSubscriptionFrame(const std::string& id, const ws::Frame& frame);
  absl::Status SendSubscribe(const Subscription& subscription, uint64_t after_sequence);
  void ResubscribeAll();
  void ReconnectLoop();
  // gRPC.
  void GrpcSubscriptionLoop(std::shared_ptr<Subscription> subscription);
  void Deliver(const std::shared_ptr<Subscription>& subscription, TopicEvent event);

  const std::string url_;
  KEIStreamClientOptions options_;
  absl::Status init_status_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<WsTransport> ws_;  // null over gRPC
  std::unique_ptr<HandlerDispatcher> dispatcher_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> duplicates_dropped_{0};
  std::atomic<int> reconnects_{0};

  mutable absl::Mutex mu_;
  bool want_connected_ ABSL_GUARDED_BY(mu_) = false;
  bool grpc_connected_ ABSL_GUARDED_BY(mu_) = false;
  bool reconnect_needed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, FrameHandler> handlers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<PendingReply>> pending_ ABSL_GUARDED_BY(mu_);
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
  std::thread reconnect_thread_;
};

}  // namespace kei
