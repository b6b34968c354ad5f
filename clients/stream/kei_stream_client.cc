#include "clients/stream/kei_stream_client.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cc/codec/proto_time.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/grpc/grpc_transport.h"
#include "clients/protocol.h"
#include "clients/ws/stream_frame_codec.h"
#include "clients/ws/ws_transport.h"

namespace kei {

// One subscription, kept across reconnects with its id and handler.
struct KEIStreamClient::Subscription {
  std::string id;
  std::string topic;
  TopicHandler handler;
  // The last sequence delivered (or the resume point); guarded by the client's mu_.
  uint64_t last_sequence = 0;
  // Subscribed with "new messages only": the server's latest sequence at the
  // first `subscribed` becomes the resume point.
  bool from_latest = true;
  bool confirmed = false;
  // gRPC: the thread reading the Subscribe stream, and that stream.
  std::thread thread;
  absl::Mutex stream_mu;
  bool cancelled ABSL_GUARDED_BY(stream_mu) = false;
  ClientStream* stream ABSL_GUARDED_BY(stream_mu) = nullptr;
};

// The server confirmed a subscription (WebSocket `subscribed` frame or the
// Topics/Subscribe marker): `latest` is the topic's newest sequence, `first`
// the oldest it still holds. Sets the resume point; DATA_LOSS when messages
// were missed. Called with the client's mu_ held.
absl::Status KEIStreamClient::OnSubscribed(Subscription& subscription, uint64_t latest,
                                           uint64_t first) {
  absl::Status problem;
  subscription.confirmed = true;
  if (subscription.from_latest && subscription.last_sequence == 0) {
    subscription.last_sequence = latest;
  } else if (latest < subscription.last_sequence) {
    // The topic starts over (a server restarted without its retained
    // messages): follow its new numbering, or every new message would look
    // like a duplicate.
    problem = absl::DataLossError(absl::StrCat(
        "subscription ", subscription.id, " to '", subscription.topic,
        "': the topic's sequence went back from ", subscription.last_sequence, " to ", latest,
        " (the server lost its retained messages); messages may have been missed"));
    subscription.last_sequence = latest;
  } else if (first > subscription.last_sequence + 1) {
    problem = absl::DataLossError(absl::StrCat(
        "subscription ", subscription.id, " to '", subscription.topic, "' missed messages ",
        subscription.last_sequence + 1, " to ", first - 1, ": the server no longer holds them"));
  }
  subscription.from_latest = false;
  return problem;
}


// A request waiting for the server's answer (subscribed, published or error).
struct KEIStreamClient::PendingReply {
  absl::Notification done;
  absl::Status status;
  v1::StreamFrame frame;
};

namespace {

// Streams of this client live as long as their callers want.
ClientConfig TransportConfig(const KEIStreamClientOptions& options) {
  ClientConfig config = options.config;
  if (!options.auth_token.empty()) config.bearer_token = options.auth_token;
  config.default_timeout = absl::InfiniteDuration();
  config.retry = RetryPolicy::None();
  return config;
}

bool Retryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kNotFound:
      return false;
    default:
      return true;
  }
}

}  // namespace

KEIStreamClient::KEIStreamClient(std::string url, KEIStreamClientOptions options)
    : url_(std::move(url)), options_(std::move(options)) {
  dispatcher_ = std::make_unique<HandlerDispatcher>([this](const absl::Status& status) {
    if (options_.on_error) options_.on_error(status);
  });
  init_status_ = Init();
}

absl::Status KEIStreamClient::Init() {
  auto endpoint = ParseEndpoint(url_);
  if (!endpoint.ok()) return endpoint.status();
  ClientConfig config = TransportConfig(options_);
  if (endpoint->scheme == "ws" || endpoint->scheme == "wss") {
    WsTransportOptions ws_options;
    ws_options.headers = options_.headers;
    ws_options.compression = options_.compression;
    ws_options.max_message_bytes = options_.max_message_bytes;
    ws_options.connect_timeout = options_.connect_timeout;
    ws_options.ping_interval = options_.ping_interval;
    ws_options.ping_timeout = options_.ping_timeout;
    ws_options.close_timeout = options_.close_timeout;
    auto transport = WsTransport::Create(*endpoint, config, ws_options);
    if (!transport.ok()) return transport.status();
    ws_ = *transport;
    transport_ = ws_;
    ws_->SetFrameObserver([this](const ws::Frame& frame) { OnAnyFrame(frame); });
    ws_->SetConnectionObserver(
        [this](bool connected, const absl::Status& why) { OnConnectionChange(connected, why); });
    reconnect_thread_ = std::thread([this] { ReconnectLoop(); });
    return absl::OkStatus();
  }
  if (endpoint->scheme == "grpc" || endpoint->scheme == "grpcs") {
    for (const auto& [key, value] : options_.headers) config.metadata.emplace(key, value);
    auto transport = GrpcTransport::Create(*endpoint, config);
    if (!transport.ok()) return transport.status();
    transport_ = *transport;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the stream client needs ws://, wss://, grpc:// or grpcs://, got ", endpoint->scheme, "://"));
}

KEIStreamClient::~KEIStreamClient() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reconnect_thread_.joinable()) reconnect_thread_.join();
  if (ws_ != nullptr) {
    ws_->SetFrameObserver(nullptr);
    ws_->SetConnectionObserver(nullptr);
    absl::MutexLock lock(&mu_);
    for (const auto& [id, _] : subscriptions_) ws_->RemoveRoute(id);
  }
  Disconnect();
  dispatcher_.reset();
}

void KEIStreamClient::ReportError(absl::Status status) {
  dispatcher_->Post("error callback", [this, status = std::move(status)] {
    if (options_.on_error) options_.on_error(status);
  });
}

// ---- Connection ----------------------------------------------------------------------

absl::Status KEIStreamClient::Connect() {
  if (!init_status_.ok()) return init_status_;
  std::vector<std::shared_ptr<Subscription>> to_start;
  {
    absl::MutexLock lock(&mu_);
    want_connected_ = true;
    if (!is_ws()) {
      grpc_connected_ = true;
      for (auto& [id, subscription] : subscriptions_) {
        if (!subscription->thread.joinable()) to_start.push_back(subscription);
      }
    }
  }
  if (!is_ws()) {
    for (auto& subscription : to_start) {
      {
        absl::MutexLock lock(&subscription->stream_mu);
        subscription->cancelled = false;
      }
      subscription->thread = std::thread([this, subscription] { GrpcSubscriptionLoop(subscription); });
    }
    return absl::OkStatus();
  }
  int before = ws_->connections_opened();
  absl::Status status = ws_->Connect();
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    want_connected_ = false;
    return status;
  }
  if (ws_->connections_opened() != before) ResubscribeAll();
  return absl::OkStatus();
}

void KEIStreamClient::Disconnect() {
  std::vector<std::shared_ptr<Subscription>> to_stop;
  std::map<std::string, std::shared_ptr<PendingReply>> pending;
  {
    absl::MutexLock lock(&mu_);
    want_connected_ = false;
    grpc_connected_ = false;
    pending.swap(pending_);
    if (!is_ws()) {
      for (auto& [id, subscription] : subscriptions_) to_stop.push_back(subscription);
    }
  }
  for (auto& [id, reply] : pending) {
    if (!reply->done.HasBeenNotified()) {
      reply->status = absl::UnavailableError("disconnected");
      reply->done.Notify();
    }
  }
  if (ws_ != nullptr) ws_->Disconnect();
  for (auto& subscription : to_stop) {
    {
      absl::MutexLock lock(&subscription->stream_mu);
      subscription->cancelled = true;
      if (subscription->stream != nullptr) subscription->stream->Cancel();
    }
    if (subscription->thread.joinable()) subscription->thread.join();
  }
}

bool KEIStreamClient::IsConnected() const {
  if (ws_ != nullptr) return ws_->connected();
  absl::MutexLock lock(&mu_);
  return grpc_connected_;
}

void KEIStreamClient::OnConnectionChange(bool connected, const absl::Status& why) {
  std::map<std::string, std::shared_ptr<PendingReply>> pending;
  {
    absl::MutexLock lock(&mu_);
    if (!connected) {
      pending.swap(pending_);
      for (auto& [id, subscription] : subscriptions_) subscription->confirmed = false;
      if (want_connected_ && options_.reconnect.enabled && !stopping_) reconnect_needed_ = true;
    }
  }
  for (auto& [id, reply] : pending) {
    if (reply->done.HasBeenNotified()) continue;
    reply->status = why.ok() ? absl::UnavailableError("the connection was closed") : why;
    reply->done.Notify();
  }
  if (options_.on_connection_change) {
    dispatcher_->Post("connection callback",
                      [this, connected] { options_.on_connection_change(connected); });
  }
}

void KEIStreamClient::ReconnectLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || reconnect_needed_;
      };
      mu_.Await(absl::Condition(&wake));
      if (stopping_) return;
      reconnect_needed_ = false;
    }
    int failed = 0;
    while (true) {
      absl::Duration delay;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_ || !want_connected_) break;
        if (!ShouldReconnect(options_.reconnect, failed)) {
          ReportError(absl::UnavailableError(absl::StrCat(
              "gave up reconnecting to ", url_, " after ", failed, " attempts")));
          want_connected_ = false;
          break;
        }
        delay = ReconnectDelay(options_.reconnect, failed + 1, random_);
        auto interrupted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !want_connected_;
        };
        if (mu_.AwaitWithTimeout(absl::Condition(&interrupted), delay)) break;
      }
      int before = ws_->connections_opened();
      absl::Status status = ws_->Connect();
      if (status.ok()) {
        if (ws_->connections_opened() != before) {
          ++reconnects_;
          ResubscribeAll();
        }
        break;
      }
      ++failed;
    }
  }
}

// ---- Frames ----------------------------------------------------------------------------

void KEIStreamClient::OnAnyFrame(const ws::Frame& parsed) {
  FrameHandler handler;
  {
    absl::MutexLock lock(&mu_);
    auto it = handlers_.find(parsed.frame.type());
    if (it == handlers_.end()) return;
    handler = it->second;
  }
  auto frame = ws::WithDataValue(parsed);
  if (!frame.ok()) {
    ReportError(frame.status());
    return;
  }
  dispatcher_->Post(absl::StrCat("handler for '", frame->type(), "' frames"),
                    [handler = std::move(handler), frame = *std::move(frame)] { handler(frame); });
}

void KEIStreamClient::RegisterHandler(const std::string& type, FrameHandler handler) {
  absl::MutexLock lock(&mu_);
  handlers_[type] = std::move(handler);
}

void KEIStreamClient::UnregisterHandler(const std::string& type) {
  absl::MutexLock lock(&mu_);
  handlers_.erase(type);
}

absl::Status KEIStreamClient::SendMessage(const std::string& type,
                                          const google::protobuf::Value& data) {
  if (!init_status_.ok()) return init_status_;
  if (!is_ws()) return absl::UnimplementedError("application messages need a ws:// or wss:// URL");
  v1::StreamFrame frame;
  frame.set_type(type);
  *frame.mutable_data() = data;
  ws::StampFrame(&frame);
  return ws_->SendFrame(std::move(frame));
}

// ---- Topics over WebSocket -------------------------------------------------------------

absl::Status KEIStreamClient::SendSubscribe(const Subscription& subscription,
                                            uint64_t after_sequence) {
  v1::StreamFrame frame;
  frame.set_type(std::string(ws::kSubscribeFrame));
  frame.set_id(subscription.id);
  frame.set_topic(subscription.topic);
  frame.set_sequence(after_sequence);
  return ws_->SendFrame(std::move(frame));
}

void KEIStreamClient::ResubscribeAll() {
  std::vector<std::pair<std::shared_ptr<Subscription>, uint64_t>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, subscription] : subscriptions_) {
      all.emplace_back(subscription, subscription->last_sequence);
    }
  }
  for (auto& [subscription, after] : all) {
    absl::Status status = SendSubscribe(*subscription, after);
    if (!status.ok()) {
      ReportError(absl::Status(status.code(), absl::StrCat("resubscribing to '", subscription->topic,
                                                           "': ", status.message())));
    }
  }
}

void KEIStreamClient::OnSubscriptionFrame(const std::string& id, const ws::Frame& parsed) {
  const v1::StreamFrame& frame = parsed.frame;  // without data
  std::shared_ptr<Subscription> subscription;
  std::shared_ptr<PendingReply> reply;
  std::optional<TopicEvent> event;
  absl::Status problem;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(id);
    if (it != subscriptions_.end()) subscription = it->second;
    auto p = pending_.find(id);
    const std::string& type = frame.type();
    bool answer = type == ws::kSubscribedFrame || type == ws::kErrorFrame ||
                  type == ws::kPublishedFrame || type == ws::kUnsubscribedFrame;
    if (p != pending_.end() && answer) {
      reply = p->second;
      pending_.erase(p);
    }
    if (subscription != nullptr) {
      if (type == ws::kSubscribedFrame) {
        problem = OnSubscribed(*subscription, frame.sequence(), frame.first_sequence());
      } else if (type == ws::kEventFrame) {
        if (frame.sequence() <= subscription->last_sequence) {
          ++duplicates_dropped_;
        } else {
          subscription->last_sequence = frame.sequence();
          TopicEvent e;
          e.subscription_id = id;
          e.topic = frame.topic().empty() ? subscription->topic : frame.topic();
          e.sequence = frame.sequence();
          e.time = TimeFromProto(frame.timestamp());
          if (parsed.has_data) {
            auto data = ws::ParseJsonValue(parsed.data_json);
            if (data.ok()) {
              e.data = *std::move(data);
            } else {
              problem = absl::Status(data.status().code(),
                                     absl::StrCat("event ", frame.sequence(), " on '", e.topic,
                                                  "': ", data.status().message()));
            }
          }
          if (problem.ok()) event = std::move(e);
        }
      } else if (type == ws::kErrorFrame && reply == nullptr) {
        problem = absl::Status(ws::StatusFromFrame(frame).code(),
                               absl::StrCat("subscription ", id, " to '", subscription->topic,
                                            "': ", frame.message()));
      }
    }
  }
  if (reply != nullptr) {
    reply->frame = frame;
    reply->status = ws::StatusFromFrame(frame);
    reply->done.Notify();
  }
  if (!problem.ok()) ReportError(problem);
  if (event.has_value()) Deliver(subscription, *std::move(event));
}

void KEIStreamClient::Deliver(const std::shared_ptr<Subscription>& subscription, TopicEvent event) {
  dispatcher_->Post(absl::StrCat("handler of subscription ", subscription->id, " ('",
                                 subscription->topic, "')"),
                    [subscription, event = std::move(event)] { subscription->handler(event); });
}

absl::StatusOr<std::string> KEIStreamClient::Subscribe(const std::string& topic,
                                                       TopicHandler handler,
                                                       uint64_t after_sequence) {
  if (!init_status_.ok()) return init_status_;
  if (topic.empty()) return absl::InvalidArgumentError("the topic must not be empty");
  auto subscription = std::make_shared<Subscription>();
  subscription->id = absl::StrCat("s", ++next_id_);
  subscription->topic = topic;
  subscription->handler = std::move(handler);
  subscription->last_sequence = after_sequence;
  subscription->from_latest = after_sequence == 0;
  const std::string id = subscription->id;
  auto reply = std::make_shared<PendingReply>();
  {
    absl::MutexLock lock(&mu_);
    if (!want_connected_) return absl::FailedPreconditionError("call Connect before Subscribe");
    subscriptions_[id] = subscription;
    if (is_ws()) pending_[id] = reply;
  }
  if (!is_ws()) {
    subscription->thread = std::thread([this, subscription] { GrpcSubscriptionLoop(subscription); });
    // Return once the server's marker says the subscription is live (later
    // failures are retried by the loop and reported through on_error).
    absl::MutexLock lock(&mu_);
    auto confirmed = [&subscription]() { return subscription->confirmed; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&confirmed), options_.request_timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "subscribing to '", topic, "' was not confirmed within ",
          absl::FormatDuration(options_.request_timeout), " (it keeps trying)"));
    }
    return id;
  }
  ws_->AddRoute(id, [this, id](const ws::Frame& frame) { OnSubscriptionFrame(id, frame); });
  absl::Status status = SendSubscribe(*subscription, after_sequence);
  if (status.code() == absl::StatusCode::kUnavailable) {
    // Reconnecting: the reconnect sends it.
    absl::MutexLock lock(&mu_);
    pending_.erase(id);
    return id;
  }
  if (status.ok() && !reply->done.WaitForNotificationWithTimeout(options_.request_timeout)) {
    status = absl::DeadlineExceededError(absl::StrCat("no answer to subscribing to '", topic,
                                                      "' within ", absl::FormatDuration(options_.request_timeout)));
  } else if (status.ok()) {
    status = reply->status;
    if (status.code() == absl::StatusCode::kUnavailable) return id;  // lost; resubscribed on reconnect
  }
  if (!status.ok()) {
    {
      absl::MutexLock lock(&mu_);
      subscriptions_.erase(id);
      pending_.erase(id);
    }
    ws_->RemoveRoute(id);
    return status;
  }
  return id;
}

absl::Status KEIStreamClient::Unsubscribe(const std::string& subscription_id) {
  std::shared_ptr<Subscription> subscription;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(subscription_id);
    if (it == subscriptions_.end()) {
      return absl::NotFoundError(absl::StrCat("no subscription '", subscription_id, "'"));
    }
    subscription = it->second;
    subscriptions_.erase(it);
  }
  if (!is_ws()) {
    {
      absl::MutexLock lock(&subscription->stream_mu);
      subscription->cancelled = true;
      if (subscription->stream != nullptr) subscription->stream->Cancel();
    }
    if (subscription->thread.joinable()) subscription->thread.join();
    return absl::OkStatus();
  }
  ws_->RemoveRoute(subscription_id);
  v1::StreamFrame frame;
  frame.set_type(std::string(ws::kUnsubscribeFrame));
  frame.set_id(subscription_id);
  absl::Status status = ws_->SendFrame(std::move(frame));
  // Not connected: the server already forgot it.
  return status.code() == absl::StatusCode::kUnavailable ? absl::OkStatus() : status;
}

absl::StatusOr<uint64_t> KEIStreamClient::Publish(const std::string& topic,
                                                  const google::protobuf::Value& data) {
  if (!init_status_.ok()) return init_status_;
  if (topic.empty()) return absl::InvalidArgumentError("the topic must not be empty");
  if (!is_ws()) {
    auto method = DescriptorRegistry::Default().FindMethod("kei.v1.Topics/Publish");
    if (!method.ok()) return method.status();
    v1::PublishRequest request;
    request.set_topic(topic);
    *request.mutable_data() = data;
    v1::PublishResponse response;
    CallOptions call_options;
    call_options.timeout = options_.request_timeout;
    AttemptOutcome outcome = transport_->Unary(*method, request, &response, call_options);
    if (!outcome.status.ok()) return outcome.status;
    return response.sequence();
  }
  std::string id = absl::StrCat("p", ++next_id_);
  auto reply = std::make_shared<PendingReply>();
  {
    absl::MutexLock lock(&mu_);
    pending_[id] = reply;
  }
  ws_->AddRoute(id, [this, id](const ws::Frame& frame) { OnSubscriptionFrame(id, frame); });
  v1::StreamFrame frame;
  frame.set_type(std::string(ws::kPublishFrame));
  frame.set_id(id);
  frame.set_topic(topic);
  *frame.mutable_data() = data;
  absl::Status status = ws_->SendFrame(std::move(frame));
  if (status.ok() && !reply->done.WaitForNotificationWithTimeout(options_.request_timeout)) {
    status = absl::DeadlineExceededError(absl::StrCat(
        "no answer to publishing on '", topic, "' within ", absl::FormatDuration(options_.request_timeout)));
  } else if (status.ok()) {
    status = reply->status;
  }
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(id);
  }
  ws_->RemoveRoute(id);
  if (!status.ok()) return status;
  return reply->frame.sequence();
}

// ---- Topics over gRPC ------------------------------------------------------------------

void KEIStreamClient::GrpcSubscriptionLoop(std::shared_ptr<Subscription> subscription) {
  auto method = DescriptorRegistry::Default().FindMethod("kei.v1.Topics/Subscribe");
  if (!method.ok()) {
    ReportError(method.status());
    return;
  }
  int failed = 0;
  while (true) {
    uint64_t after;
    {
      absl::MutexLock lock(&mu_);
      after = subscription->last_sequence;
    }
    auto opened = transport_->OpenStream(*method, CallOptions());
    absl::Status status = opened.status();
    if (opened.ok()) {
      std::unique_ptr<ClientStream> stream = *std::move(opened);
      {
        absl::MutexLock lock(&subscription->stream_mu);
        if (subscription->cancelled) return;
        subscription->stream = stream.get();
      }
      v1::SubscribeRequest request;
      request.set_topic(subscription->topic);
      request.set_after_sequence(after);
      if (stream->Write(request) && stream->CloseSend()) {
        v1::TopicMessage message;
        while (stream->Read(&message)) {
          failed = 0;
          std::optional<TopicEvent> event;
          absl::Status problem;
          {
            absl::MutexLock lock(&mu_);
            if (message.subscribed()) {
              // The marker: the subscription is live (Subscribe waits for it).
              problem = OnSubscribed(*subscription, message.sequence(), message.first_sequence());
            } else if (message.sequence() <= subscription->last_sequence) {
              ++duplicates_dropped_;
            } else {
              subscription->last_sequence = message.sequence();
              TopicEvent e;
              e.subscription_id = subscription->id;
              e.topic = message.topic().empty() ? subscription->topic : message.topic();
              e.sequence = message.sequence();
              e.time = TimeFromProto(message.time());
              e.data = message.data();
              event = std::move(e);
            }
          }
          if (!problem.ok()) ReportError(problem);
          if (event.has_value()) Deliver(subscription, *std::move(event));
        }
      }
      status = stream->Finish();
      absl::MutexLock lock(&subscription->stream_mu);
      subscription->stream = nullptr;
    }
    absl::Duration delay;
    {
      absl::MutexLock lock(&subscription->stream_mu);
      if (subscription->cancelled) return;
    }
    if (!Retryable(status)) {
      ReportError(absl::Status(status.code(), absl::StrCat("subscription ", subscription->id, " to '",
                                                           subscription->topic, "': ",
                                                           status.message())));
      return;
    }
    ++failed;
    {
      absl::MutexLock lock(&mu_);
      if (!ShouldReconnect(options_.reconnect, failed - 1)) {
        ReportError(absl::UnavailableError(absl::StrCat(
            "gave up resubscribing to '", subscription->topic, "': ", status.message())));
        return;
      }
      delay = ReconnectDelay(options_.reconnect, failed, random_);
    }
    absl::MutexLock lock(&subscription->stream_mu);
    subscription->stream_mu.AwaitWithTimeout(absl::Condition(&subscription->cancelled), delay);
    if (subscription->cancelled) return;
  }
}

// ---- Typed streams ---------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ClientStream>> KEIStreamClient::OpenStream(
    absl::string_view method, const CallOptions& options) {
  if (!init_status_.ok()) return init_status_;
  auto info = DescriptorRegistry::Default().FindMethod(method);
  if (!info.ok()) return info.status();
  return transport_->OpenStream(*info, options);
}

}  // namespace kei
