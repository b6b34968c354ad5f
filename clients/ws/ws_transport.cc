#include "clients/ws/ws_transport.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/proto_codec.h"
#include "clients/ws/ws_call.h"

namespace kei {
namespace {

using google::protobuf::Message;
using ws::WsCall;

absl::Time DeadlineFor(const CallOptions& options, const ClientConfig& config) {
  absl::Time deadline = options.EffectiveDeadline();
  if (deadline == absl::InfiniteFuture() && config.default_timeout != absl::InfiniteDuration()) {
    deadline = absl::Now() + config.default_timeout;
  }
  return deadline;
}

absl::Time WaitBound(absl::Time deadline, absl::Duration grace) {
  return deadline == absl::InfiniteFuture() ? deadline : deadline + grace;
}

// A call frame for `method`: the call's own metadata and what is left of its
// deadline. DEADLINE_EXCEEDED when nothing is left.
absl::StatusOr<v1::StreamFrame> CallFrame(const std::string& id, const MethodInfo& method,
                                          const CallOptions& options, absl::Time deadline,
                                          uint32_t credit) {
  v1::StreamFrame frame;
  frame.set_type(std::string(ws::kCallFrame));
  frame.set_id(id);
  frame.set_method(method.full_name);
  if (deadline != absl::InfiniteFuture()) {
    absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("deadline exceeded before the call was sent");
    }
    double ms = std::ceil(absl::ToDoubleMilliseconds(remaining));
    frame.set_timeout_ms(static_cast<uint32_t>(
        std::clamp<double>(ms, 1, std::numeric_limits<uint32_t>::max())));
  }
  for (const auto& [key, value] : options.metadata) {
    std::string name = absl::AsciiStrToLower(key);
    (*frame.mutable_metadata())[name] =
        absl::EndsWith(name, "-bin") ? absl::Base64Escape(value) : value;
  }
  if (credit > 0) frame.set_credit(credit);
  return frame;
}

v1::StreamFrame ControlFrame(absl::string_view type, const std::string& id) {
  v1::StreamFrame frame;
  frame.set_type(std::string(type));
  frame.set_id(id);
  return frame;
}

// ---- Streams ------------------------------------------------------------------------

// A call of any kind as a ClientStream. Unary and server-streaming calls send
// their `call` frame, with the request, at the first Write (or CloseSend / Read
// without one); client and bidi calls send it at open and each Write is a
// `message` frame within the server's credit.
class WsClientStream final : public ClientStream {
 public:
  WsClientStream(std::shared_ptr<WsTransport> transport, MethodInfo method, CallOptions options,
                 absl::Time deadline)
      : transport_(std::move(transport)),
        method_(std::move(method)),
        options_(std::move(options)),
        deadline_(deadline),
        wait_bound_(WaitBound(deadline, transport_->options().deadline_grace)),
        window_(std::max<uint32_t>(1, transport_->options().receive_window)) {}

  ~WsClientStream() override {
    if (call_ != nullptr && !call_->done()) Cancel();
    if (call_ != nullptr) transport_->EndCall(call_->id());
  }

  bool single_request() const {
    return method_.kind == StreamKind::kUnary || method_.kind == StreamKind::kServerStreaming;
  }

  // Client and bidi calls start at open.
  absl::Status Open() {
    // Methods that take one request start with the first Write; connect now
    // anyway, so an unreachable server is reported here, where a
    // UnifiedClient can still pick another protocol.
    if (single_request()) return transport_->Connect();
    return Start(nullptr);
  }

  bool Write(const Message& message) override {
    if (closed_send_ || failed_local_) return false;
    if (single_request()) {
      if (call_ != nullptr) return false;
      return Start(&message).ok();
    }
    return SendMessage([&] { return transport_->EncodeCallMessage(message); });
  }

  // Proto frames carry the bytes as they are.
  bool WriteSerialized(const Message& declared, absl::string_view bytes) override {
    if (closed_send_ || failed_local_) return false;
    if (single_request()) return ClientStream::WriteSerialized(declared, bytes);
    return SendMessage([&] { return transport_->EncodeSerializedCallMessage(declared, bytes); });
  }

  // A `message` frame of a client or bidi call, within the server's credit.
  bool SendMessage(absl::FunctionRef<absl::StatusOr<ws::CallMessage>()> encode) {
    if (call_->done()) return false;
    bool timed_out = false;
    if (!call_->TakeSendCredit(wait_bound_, &timed_out)) {
      if (timed_out) Abandon(absl::DeadlineExceededError("deadline exceeded waiting for send credit"));
      return false;
    }
    auto encoded = encode();
    if (!encoded.ok()) {
      if (encoded.status().code() == absl::StatusCode::kUnavailable) {
        call_->Fail(encoded.status());
      } else {
        Abandon(encoded.status());
      }
      return false;
    }
    if (absl::Status s = transport_->SendCallFrame(ControlFrame(ws::kMessageFrame, call_->id()),
                                                   *std::move(encoded));
        !s.ok()) {
      if (s.code() == absl::StatusCode::kResourceExhausted) Abandon(s);
      else call_->Fail(s);
      return false;
    }
    return true;
  }

  bool CloseSend() override {
    if (closed_send_) return call_ != nullptr && (!call_->done() || call_->status().ok());
    closed_send_ = true;
    if (single_request()) {
      if (call_ == nullptr) return Start(nullptr).ok();
      return !call_->done() || call_->status().ok();
    }
    if (call_->done()) return call_->status().ok();
    absl::Status s = transport_->SendFrame(ControlFrame(ws::kHalfCloseFrame, call_->id()));
    if (!s.ok()) call_->Fail(s);
    return s.ok();
  }

  bool Read(Message* message) override {
    if (call_ == nullptr && !failed_local_) {
      closed_send_ = true;
      Start(nullptr).IgnoreError();  // failed_local_ records it
    }
    if (call_ == nullptr) return false;
    bool timed_out = false;
    std::optional<ws::CallMessage> received = call_->NextMessage(wait_bound_, &timed_out);
    if (timed_out) {
      Abandon(absl::DeadlineExceededError("deadline exceeded"));
      return false;
    }
    if (!received.has_value()) return false;
    if (absl::Status s = ws::DecodeCallMessage(*received, message); !s.ok()) {
      Abandon(absl::InternalError(absl::StrCat("decoding the response message: ", s.message())));
      return false;
    }
    if (!single_request() || method_.kind == StreamKind::kServerStreaming) GrantCredit();
    return true;
  }

  absl::Status Finish() override {
    if (call_ == nullptr) {
      if (failed_local_) return local_status_;
      return absl::CancelledError("Finish called before the call started");
    }
    // As with gRPC, Finish waits for the server's final status; response
    // messages nobody read are dropped (and credited, so the server is never
    // stuck waiting for credit the caller will not give).
    while (!call_->done()) {
      bool timed_out = false;
      std::optional<ws::CallMessage> received = call_->NextMessage(wait_bound_, &timed_out);
      if (timed_out) {
        Abandon(absl::DeadlineExceededError("deadline exceeded"));
        break;
      }
      if (!received.has_value()) break;
      GrantCredit();
    }
    return call_->status();
  }

  void Cancel() override {
    if (call_ == nullptr) {
      failed_local_ = true;
      local_status_ = absl::CancelledError("the call was cancelled");
      return;
    }
    Abandon(absl::CancelledError("the call was cancelled"));
  }

 private:
  absl::Status Start(const Message* request) {
    std::string id = transport_->NextId("c");
    uint32_t credit = method_.kind == StreamKind::kUnary ? 0 : window_;
    auto frame = CallFrame(id, method_, options_, deadline_, credit);
    absl::Status status = frame.status();
    if (status.ok()) status = transport_->Connect();
    // Encoded for the connection just opened (its subprotocol decides how).
    std::optional<ws::CallMessage> encoded;
    if (status.ok() && request != nullptr) {
      auto e = transport_->EncodeCallMessage(*request);
      if (e.ok()) encoded = *std::move(e);
      status = e.status();
    }
    if (!status.ok()) {
      failed_local_ = true;
      local_status_ = status;
      return status;
    }
    auto call = std::make_shared<WsCall>(id, transport_->welcome().initial_credit);
    status = transport_->StartCall(call, *std::move(frame), std::move(encoded));
    if (!status.ok()) {
      failed_local_ = true;
      local_status_ = status;
      return status;
    }
    call_ = std::move(call);
    return absl::OkStatus();
  }

  // Credit back to the server once half the window has been read.
  void GrantCredit() {
    if (++consumed_ < std::max<uint32_t>(1, window_ / 2)) return;
    v1::StreamFrame frame = ControlFrame(ws::kCreditFrame, call_->id());
    frame.set_credit(consumed_);
    consumed_ = 0;
    transport_->SendFrame(std::move(frame)).IgnoreError();
  }

  // Ends the call here and tells the server (cancel frame).
  void Abandon(absl::Status status) {
    if (call_ == nullptr || call_->done()) return;
    call_->Fail(std::move(status));
    transport_->SendFrame(ControlFrame(ws::kCancelFrame, call_->id())).IgnoreError();
    transport_->EndCall(call_->id());
  }

  std::shared_ptr<WsTransport> transport_;
  MethodInfo method_;
  CallOptions options_;
  absl::Time deadline_;
  absl::Time wait_bound_;
  uint32_t window_;
  std::shared_ptr<WsCall> call_;
  bool closed_send_ = false;
  bool failed_local_ = false;
  absl::Status local_status_;
  uint32_t consumed_ = 0;
};

}  // namespace

// ---- The transport -------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<WsTransport>> WsTransport::Create(const Endpoint& endpoint,
                                                                 ClientConfig config,
                                                                 WsTransportOptions options) {
  if (endpoint.scheme != "ws" && endpoint.scheme != "wss") {
    return absl::InvalidArgumentError(
        absl::StrCat("WebSocket transport needs ws:// or wss://, got ", endpoint.scheme, "://"));
  }
  if (endpoint.tls) config.tls.enabled = true;
  std::string path = endpoint.path.empty() || endpoint.path == "/" ? std::string(ws::kStreamPath)
                                                                    : endpoint.path;
  std::string url = absl::StrCat(endpoint.scheme, "://", endpoint.authority(), path);
  return std::shared_ptr<WsTransport>(
      new WsTransport(std::move(url), std::move(config), std::move(options)));
}

WsTransport::WsTransport(std::string url, ClientConfig config, WsTransportOptions options)
    : url_(std::move(url)), config_(std::move(config)), options_(std::move(options)) {}

WsTransport::~WsTransport() {
  {
    absl::MutexLock lock(&mu_);
    frame_observer_.reset();
    connection_observer_.reset();
  }
  Disconnect();
}

absl::Status WsTransport::Connect() {
  absl::MutexLock connect_lock(&connect_mu_);
  std::unique_ptr<ws::WsConnection> old;
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    if (connected_) return absl::OkStatus();
    old = std::move(connection_);
    generation = ++generation_;
  }
  old.reset();  // already closed; joins its io thread
  ws::WsConnectionOptions options;
  options.url = url_;
  options.config = config_;
  options.headers = options_.headers;
  options.compression = options_.compression;
  options.proto_frames = options_.proto_frames;
  options.max_message_bytes = options_.max_message_bytes;
  options.connect_timeout = options_.connect_timeout;
  options.ping_interval = options_.ping_interval;
  options.ping_timeout = options_.ping_timeout;
  options.close_timeout = options_.close_timeout;
  auto connection = ws::WsConnection::Connect(
      std::move(options),
      [this, generation](const ws::Frame& frame) { OnFrame(generation, frame); },
      [this, generation](const ws::WsCloseInfo& info) { OnClose(generation, info); });
  std::shared_ptr<ConnectionObserver> observer;
  {
    absl::MutexLock lock(&mu_);
    if (!connection.ok()) {
      last_failure_ = absl::Now();
      return connection.status();
    }
    welcome_ = (*connection)->welcome();
    proto_frames_ = (*connection)->proto_frames();
    connection_ = *std::move(connection);
    ++connections_opened_;
    if (closed_generation_ == generation) {
      last_failure_ = absl::Now();
      return absl::UnavailableError("the stream connection closed right after it opened");
    }
    connected_ = true;
    observer = connection_observer_;
  }
  if (observer != nullptr && *observer) (*observer)(true, absl::OkStatus());
  return absl::OkStatus();
}

void WsTransport::Disconnect() {
  absl::MutexLock connect_lock(&connect_mu_);
  std::unique_ptr<ws::WsConnection> connection;
  {
    absl::MutexLock lock(&mu_);
    connection = std::move(connection_);
  }
  // Close (not just destroy) so OnClose fails the calls in flight.
  if (connection != nullptr) connection->Close();
}

bool WsTransport::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

bool WsTransport::Available() const {
  absl::MutexLock lock(&mu_);
  return connected_ || absl::Now() - last_failure_ > absl::Seconds(1);
}

std::string WsTransport::NextId(absl::string_view prefix) {
  return absl::StrCat(prefix, ++next_id_);
}

absl::Status WsTransport::SendFrame(v1::StreamFrame frame, absl::string_view data_json) {
  absl::MutexLock lock(&mu_);
  if (!connected_ || connection_ == nullptr) {
    return absl::UnavailableError("the stream connection is not open");
  }
  return connection_->Send(std::move(frame), data_json);
}

void WsTransport::AddRoute(const std::string& id, FrameHandler handler) {
  absl::MutexLock lock(&mu_);
  routes_[id] = std::make_shared<FrameHandler>(std::move(handler));
}

void WsTransport::RemoveRoute(const std::string& id) {
  absl::MutexLock lock(&mu_);
  routes_.erase(id);
}

void WsTransport::SetFrameObserver(FrameHandler observer) {
  absl::MutexLock lock(&mu_);
  frame_observer_ = std::make_shared<FrameHandler>(std::move(observer));
}

void WsTransport::SetConnectionObserver(ConnectionObserver observer) {
  absl::MutexLock lock(&mu_);
  connection_observer_ = std::make_shared<ConnectionObserver>(std::move(observer));
}

bool WsTransport::proto_frames() const {
  absl::MutexLock lock(&mu_);
  return proto_frames_;
}

ws::WelcomeInfo WsTransport::welcome() const {
  absl::MutexLock lock(&mu_);
  return welcome_;
}

absl::StatusOr<ws::CallMessage> WsTransport::EncodeCallMessage(const Message& message) {
  bool proto;
  {
    absl::MutexLock lock(&mu_);
    if (!connected_ || connection_ == nullptr) {
      return absl::UnavailableError("the stream connection is not open");
    }
    proto = proto_frames_;
  }
  return ws::EncodeCallMessage(message, proto);
}

absl::StatusOr<ws::CallMessage> WsTransport::EncodeSerializedCallMessage(
    const Message& declared, absl::string_view bytes) {
  bool proto;
  {
    absl::MutexLock lock(&mu_);
    if (!connected_ || connection_ == nullptr) {
      return absl::UnavailableError("the stream connection is not open");
    }
    proto = proto_frames_;
  }
  if (proto) return ws::CallMessage{std::string(bytes), true};
  auto message = ProtoCodec().UnmarshalNew(declared, bytes);
  if (!message.ok()) return message.status();
  return ws::EncodeCallMessage(**message, false);
}

absl::Status WsTransport::SendCallFrame(v1::StreamFrame frame, ws::CallMessage message) {
  absl::MutexLock lock(&mu_);
  if (!connected_ || connection_ == nullptr) {
    return absl::UnavailableError("the stream connection is not open");
  }
  return connection_->SendCall(std::move(frame), std::move(message));
}

absl::Status WsTransport::StartCall(const std::shared_ptr<WsCall>& call, v1::StreamFrame frame,
                                    std::optional<ws::CallMessage> request) {
  absl::MutexLock lock(&mu_);
  if (!connected_ || connection_ == nullptr) {
    return absl::UnavailableError("the stream connection is not open");
  }
  call->generation = generation_;
  calls_[call->id()] = call;
  absl::Status status = request.has_value()
                            ? connection_->SendCall(std::move(frame), *std::move(request))
                            : connection_->Send(std::move(frame));
  if (!status.ok()) calls_.erase(call->id());
  return status;
}

void WsTransport::EndCall(const std::string& id) {
  absl::MutexLock lock(&mu_);
  calls_.erase(id);
}

void WsTransport::OnFrame(uint64_t generation, const ws::Frame& frame) {
  std::shared_ptr<WsCall> call;
  std::shared_ptr<FrameHandler> route;
  std::shared_ptr<FrameHandler> observer;
  {
    absl::MutexLock lock(&mu_);
    const std::string& id = frame.frame.id();
    if (!id.empty()) {
      auto it = calls_.find(id);
      if (it != calls_.end() && it->second->generation == generation) {
        call = it->second;
        const std::string& type = frame.frame.type();
        if (type == ws::kResponseFrame || type == ws::kEndFrame || type == ws::kErrorFrame) {
          calls_.erase(it);
        }
      } else if (auto r = routes_.find(id); r != routes_.end()) {
        route = r->second;
      }
    }
    observer = frame_observer_;
  }
  if (call != nullptr) call->OnFrame(frame);
  if (route != nullptr && *route) (*route)(frame);
  if (observer != nullptr && *observer) (*observer)(frame);
}

void WsTransport::OnClose(uint64_t generation, const ws::WsCloseInfo& info) {
  std::vector<std::shared_ptr<WsCall>> lost;
  std::shared_ptr<ConnectionObserver> observer;
  bool was_connected = false;
  {
    absl::MutexLock lock(&mu_);
    closed_generation_ = std::max(closed_generation_, generation);
    if (generation == generation_) {
      was_connected = connected_;
      connected_ = false;
    }
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (it->second->generation == generation) {
        lost.push_back(it->second);
        it = calls_.erase(it);
      } else {
        ++it;
      }
    }
    observer = connection_observer_;
  }
  absl::Status status = info.status.ok()
                            ? absl::UnavailableError("the stream connection was closed")
                            : info.status;
  for (const auto& call : lost) call->Fail(status);
  if (was_connected && observer != nullptr && *observer) (*observer)(false, info.status);
}

AttemptOutcome WsTransport::Unary(const MethodInfo& method, const Message& request,
                                  Message* response, const CallOptions& options) {
  AttemptOutcome outcome;
  outcome.reached_server = false;
  absl::Time deadline = DeadlineFor(options, config_);
  std::string id = NextId("c");
  auto frame = CallFrame(id, method, options, deadline, 0);
  if (!frame.ok()) {
    outcome.status = frame.status();
    return outcome;
  }
  if (absl::Status s = Connect(); !s.ok()) {
    outcome.status = s;
    // Credentials or certificates will not change on a retry.
    if (s.code() != absl::StatusCode::kUnavailable) outcome.pushback = absl::Milliseconds(-1);
    return outcome;
  }
  // Encoded for the connection just opened (its subprotocol decides how).
  auto encoded = EncodeCallMessage(request);
  if (!encoded.ok()) {
    outcome.status = encoded.status();
    return outcome;
  }
  auto call = std::make_shared<WsCall>(id, 0);
  if (absl::Status s = StartCall(call, *std::move(frame), *std::move(encoded)); !s.ok()) {
    outcome.status = s;
    if (s.code() == absl::StatusCode::kResourceExhausted) outcome.pushback = absl::Milliseconds(-1);
    return outcome;
  }
  outcome.reached_server = true;
  if (!call->WaitDone(WaitBound(deadline, options_.deadline_grace))) {
    call->Fail(absl::DeadlineExceededError("deadline exceeded"));
    SendFrame(ControlFrame(ws::kCancelFrame, id)).IgnoreError();
    EndCall(id);
  }
  outcome.status = call->status();
  if (!outcome.status.ok()) return outcome;
  bool timed_out = false;
  std::optional<ws::CallMessage> received = call->NextMessage(absl::Now(), &timed_out);
  if (!received.has_value()) {
    outcome.status = absl::InternalError("the call ended without a response");
    return outcome;
  }
  if (absl::Status s = ws::DecodeCallMessage(*received, response); !s.ok()) {
    outcome.status = absl::InternalError(absl::StrCat("decoding the response: ", s.message()));
  }
  return outcome;
}

absl::StatusOr<std::unique_ptr<ClientStream>> WsTransport::OpenStream(const MethodInfo& method,
                                                                      const CallOptions& options) {
  absl::Time deadline = DeadlineFor(options, config_);
  if (deadline <= absl::Now()) {
    return absl::DeadlineExceededError("deadline exceeded before the call was sent");
  }
  auto stream = std::make_unique<WsClientStream>(shared_from_this(), method, options, deadline);
  if (absl::Status s = stream->Open(); !s.ok()) return s;
  return std::unique_ptr<ClientStream>(std::move(stream));
}

}  // namespace kei
