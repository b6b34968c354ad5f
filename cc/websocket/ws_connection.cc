#include "cc/websocket/ws_connection.h"

#include <deque>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/codec/proto_time.h"
#include "cc/registry/method_info.h"
#include "cc/status/code_names.h"
#include "google/protobuf/struct.pb.h"
#include "kei/v1/stream.pb.h"

namespace kei::websocket {
namespace {

const MethodInfo& ConnectMethod() {
  static const MethodInfo* info = [] {
    auto* m = new MethodInfo;
    m->full_name = kConnectMethod;
    m->path = absl::StrCat("/", kConnectMethod);
    m->service_name = "kei.v1.Stream";
    m->method_name = "Connect";
    m->kind = StreamKind::kBidiStreaming;
    return m;
  }();
  return *info;
}

// kei.v1.Topics/<name>, from the descriptor, for admitting topic operations.
const MethodInfo& TopicsMethod(const char* name) {
  static const MethodInfo* publish = [] {
    const auto* service = v1::StreamFrame::descriptor()->file()->FindServiceByName("Topics");
    return new MethodInfo(MethodInfo::FromDescriptor(service->FindMethodByName("Publish")));
  }();
  static const MethodInfo* subscribe = [] {
    const auto* service = v1::StreamFrame::descriptor()->file()->FindServiceByName("Topics");
    return new MethodInfo(MethodInfo::FromDescriptor(service->FindMethodByName("Subscribe")));
  }();
  return std::string_view(name) == "Publish" ? *publish : *subscribe;
}

// An `event` frame for one subscription.
std::string RenderEvent(const pubsub::TopicMessage& message, const std::string& id, bool binary) {
  v1::StreamFrame event;
  event.set_type("event");
  event.set_id(id);
  event.set_topic(message.topic);
  event.set_sequence(message.sequence);
  TimeToProto(message.time, event.mutable_timestamp());
  return RenderFrame(std::move(event), message.data_json, binary);
}

// The same as RenderEvent for JSON, but a publish to N subscribers renders
// the frame once: the callbacks of one publish run one after another on the
// publisher's thread, so the frame without its id is kept per thread and each
// subscriber's id is spliced in.
std::string RenderJsonEvent(const pubsub::TopicMessage& message, const std::string& id) {
  struct Cached {
    const pubsub::TopicMessage* message = nullptr;
    uint64_t sequence = 0;
    std::string topic;
    std::string frame;  // {"type":"event",<rest without id>
  };
  thread_local Cached cached;
  if (cached.message != &message || cached.sequence != message.sequence ||
      cached.topic != message.topic) {
    cached.message = &message;
    cached.sequence = message.sequence;
    cached.topic = message.topic;
    cached.frame = RenderEvent(message, "", false);
  }
  constexpr absl::string_view kHead = R"({"type":"event",)";
  if (!absl::StartsWith(cached.frame, kHead)) return RenderEvent(message, id, false);
  std::string out;
  out.reserve(cached.frame.size() + id.size() + 8);
  out.append(kHead.data(), kHead.size());
  out.append(R"("id":")");
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.append(R"(",)");
  out.append(cached.frame, kHead.size(), std::string::npos);
  return out;
}

bool ReadsStream(StreamKind kind) {
  return kind == StreamKind::kClientStreaming || kind == StreamKind::kBidiStreaming;
}

}  // namespace

// One call in flight on the connection.
struct WsConnection::Call {
  std::string id;
  const MethodHandler* method = nullptr;
  CancellationToken token;
  v1::StreamFrame start;  // the call frame (metadata, timeout), without data

  absl::Mutex mu;
  // Response messages the client is ready for.
  int64_t send_credit ABSL_GUARDED_BY(mu) = 0;
  // Request messages the client may still send before we grant more.
  int64_t receive_allowance ABSL_GUARDED_BY(mu) = 0;
  // Request messages read by the handler since the last grant.
  int64_t consumed ABSL_GUARDED_BY(mu) = 0;
  // Request messages as the connection encodes them (WsConnection::codec()).
  std::deque<std::string> inbound ABSL_GUARDED_BY(mu);
  bool half_closed ABSL_GUARDED_BY(mu) = false;
  // Set when the client cancelled or the connection went away: no frames.
  bool abandoned ABSL_GUARDED_BY(mu) = false;
};

// The handler's side of a streaming call: reads the client's message frames,
// writes message frames within the client's credit.
class WsConnection::CallStream final : public StreamIO {
 public:
  CallStream(WsConnection& connection, Call& call, uint32_t initial_credit)
      : connection_(connection), call_(call), grant_every_(std::max<uint32_t>(1, initial_credit / 2)) {}

  bool Read(google::protobuf::Message* message) override {
    std::string body;
    if (!NextBody(&body)) return false;
    message->Clear();
    absl::Status s = connection_.codec().Unmarshal(body, message);
    if (!s.ok()) {
      decode_status_ = absl::InvalidArgumentError(absl::StrCat("message: ", s.message()));
      return false;
    }
    return true;
  }

  // Proto frames carry the serialized message as it is.
  bool ReadSerialized(const google::protobuf::Message& declared, std::string* out) override {
    if (!connection_.binary_) return StreamIO::ReadSerialized(declared, out);
    return NextBody(out);
  }

  bool Write(const google::protobuf::Message& message) override {
    if (!TakeSendCredit()) return false;
    std::string body;
    if (!connection_.codec().Marshal(message, &body).ok()) return false;
    return SendBody(std::move(body));
  }

  bool WriteSerialized(const google::protobuf::Message& declared,
                       absl::string_view bytes) override {
    if (!connection_.binary_) return StreamIO::WriteSerialized(declared, bytes);
    if (!TakeSendCredit()) return false;
    return SendBody(std::string(bytes));
  }

  const absl::Status& decode_status() const { return decode_status_; }

 private:
  // The next message frame's body as the connection encodes it; false at the
  // end of the client's stream or on cancellation.
  bool NextBody(std::string* body) {
    int64_t grant = 0;
    {
      absl::MutexLock lock(&call_.mu);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(call_.mu) {
        return !call_.inbound.empty() || call_.half_closed || call_.token.IsCancelled();
      };
      call_.mu.Await(absl::Condition(&ready));
      if (call_.token.IsCancelled() || call_.inbound.empty()) return false;
      *body = std::move(call_.inbound.front());
      call_.inbound.pop_front();
      connection_.ReleaseInbound(body->size());
      if (++call_.consumed >= grant_every_ && !call_.half_closed) {
        grant = call_.consumed;
        call_.consumed = 0;
        call_.receive_allowance += grant;
      }
    }
    if (grant > 0) {
      v1::StreamFrame frame;
      frame.set_type("credit");
      frame.set_id(call_.id);
      frame.set_credit(static_cast<uint32_t>(grant));
      connection_.Send(std::move(frame));
    }
    return true;
  }

  // One of the client's credits for a message frame; false once cancelled.
  bool TakeSendCredit() {
    absl::MutexLock lock(&call_.mu);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(call_.mu) {
      return call_.send_credit > 0 || call_.token.IsCancelled();
    };
    call_.mu.Await(absl::Condition(&ready));
    if (call_.token.IsCancelled()) return false;
    --call_.send_credit;
    return true;
  }

  bool SendBody(std::string body) {
    v1::StreamFrame frame;
    frame.set_type("message");
    frame.set_id(call_.id);
    return connection_.queue_->Push(connection_.RenderCallFrame(std::move(frame), std::move(body)));
  }

  WsConnection& connection_;
  Call& call_;
  const int64_t grant_every_;
  absl::Status decode_status_;
};

WsConnection::WsConnection(const WsEndpoint& endpoint, std::shared_ptr<SendQueue> queue,
                           Peer peer, bool binary)
    : endpoint_(endpoint), queue_(std::move(queue)), peer_(std::move(peer)), binary_(binary) {}

WsConnection::~WsConnection() { Stop(); }

absl::Status WsConnection::Admit(const WsEndpoint& endpoint, const Peer& peer) {
  Context context;
  context.set_protocol("websocket");
  context.set_peer(peer.address);
  if (peer.transport_identity.authenticated()) {
    context.set_transport_identity(peer.transport_identity);
  }
  context.mutable_metadata() = peer.handshake;
  return endpoint.dispatcher->Admit(ConnectMethod(), context);
}

void WsConnection::Start() {
  v1::StreamFrame frame;
  frame.set_type("welcome");
  const WebSocketOptions& o = endpoint_.options;
  Send(std::move(frame),
       absl::StrCat(R"({"protocol":"kei.stream.v1","encoding":")",
                    // "payload": call messages travel serialized in `payload`
                    // (older servers put them in `data` on proto connections).
                    binary_ ? R"(proto","payload":true,"maxMessageBytes":)"
                            : R"(json","maxMessageBytes":)", o.max_message_bytes, R"(,"sendQueueBytes":)",
                    o.send_queue_bytes, R"(,"initialCredit":)", o.initial_credit, "}"));
}

size_t WsConnection::open_calls() const {
  absl::MutexLock lock(&mu_);
  return calls_.size() + subscriptions_.size();
}

bool WsConnection::ReserveInbound(size_t bytes) {
  const auto n = static_cast<int64_t>(bytes);
  if (inbound_bytes_.fetch_add(n) + n > static_cast<int64_t>(endpoint_.options.receive_queue_bytes)) {
    inbound_bytes_.fetch_sub(n);
    return false;
  }
  return true;
}

void WsConnection::ReleaseInbound(size_t bytes) {
  inbound_bytes_.fetch_sub(static_cast<int64_t>(bytes));
}

void WsConnection::Send(v1::StreamFrame frame, absl::string_view data_json) {
  queue_->Push(RenderFrame(std::move(frame), data_json, binary_));
}

const Codec& WsConnection::codec() const {
  static const JsonCodec* json = new JsonCodec();
  static const ProtoCodec* proto = new ProtoCodec();
  return binary_ ? static_cast<const Codec&>(*proto) : *json;
}

std::string WsConnection::RenderCallFrame(v1::StreamFrame frame, std::string message) const {
  return binary_ ? RenderPayloadFrame(std::move(frame), std::move(message))
                 : RenderFrame(std::move(frame), message, false);
}

absl::StatusOr<std::optional<std::string>> WsConnection::TakeCallMessage(
    ParsedFrame& parsed) const {
  if (!binary_) {
    if (parsed.has_payload) {
      return absl::InvalidArgumentError(
          "payload: JSON connections carry a call's messages as JSON in data (payload is for "
          "kei.stream.v1.proto connections)");
    }
    if (!parsed.has_data) return std::nullopt;
    return std::move(parsed.data_json);
  }
  if (parsed.has_data) {
    return absl::InvalidArgumentError(
        "data: on kei.stream.v1.proto connections a call's messages travel serialized in "
        "payload");
  }
  if (!parsed.has_payload) return std::nullopt;
  return std::move(parsed.payload);
}

void WsConnection::SendError(const std::string& id, const absl::Status& status) {
  v1::StreamFrame frame;
  frame.set_type("error");
  frame.set_id(id);
  frame.set_code(std::string(ConnectCodeName(status.code())));
  frame.set_message(std::string(status.message()));
  Send(std::move(frame));
}

void WsConnection::OnMessage(absl::string_view message, bool binary) {
  auto parsed = ParseFrame(message, binary);
  if (!parsed.ok()) {
    SendError("", parsed.status());
    return;
  }
  const std::string& type = parsed->frame.type();
  const std::string& id = parsed->frame.id();
  if (id.size() > endpoint_.options.max_id_bytes) {
    SendError("", absl::InvalidArgumentError(absl::StrCat(
                      "id: at most ", endpoint_.options.max_id_bytes, " bytes, got ", id.size())));
    return;
  }
  if (type == "call") {
    StartCall(*parsed);
  } else if (type == "message") {
    OnCallMessage(*parsed);
  } else if (type == "half_close") {
    OnHalfClose(id);
  } else if (type == "cancel") {
    OnCancel(id);
  } else if (type == "credit") {
    OnCredit(id, parsed->frame.credit());
  } else if (type == "subscribe") {
    Subscribe(*parsed);
  } else if (type == "unsubscribe") {
    Unsubscribe(id);
  } else if (type == "publish") {
    Publish(*parsed);
  } else {
    SendError(id, absl::UnimplementedError(absl::StrCat(
                      "unknown frame type '", type.substr(0, 64),
                      "' (expected call, message, half_close, cancel, credit, subscribe, "
                      "unsubscribe or publish)")));
  }
}

void WsConnection::InitContext(Context& context, const v1::StreamFrame& frame,
                               const CancellationToken& token) const {
  context.set_protocol("websocket");
  context.set_peer(peer_.address);
  context.set_cancellation(token);
  if (peer_.transport_identity.authenticated()) {
    context.set_transport_identity(peer_.transport_identity);
  }
  Metadata& metadata = context.mutable_metadata();
  metadata = peer_.handshake;
  for (const auto& [key, value] : frame.metadata()) {
    metadata.emplace(absl::AsciiStrToLower(key), value);
  }
  if (frame.timeout_ms() > 0) {
    context.set_deadline(absl::Now() + absl::Milliseconds(frame.timeout_ms()));
  }
}

void WsConnection::StartCall(ParsedFrame& parsed) {
  const v1::StreamFrame& frame = parsed.frame;
  if (frame.id().empty()) {
    SendError("", absl::InvalidArgumentError("call: id is required"));
    return;
  }
  const std::string name = CanonicalMethodName(frame.method());
  const MethodHandler* method =
      name.empty() ? nullptr : endpoint_.dispatcher->registry().Find(name);
  if (method == nullptr) {
    SendError(frame.id(), absl::UnimplementedError(
                              absl::StrCat("unknown method '", frame.method().substr(0, 200), "'")));
    return;
  }
  auto carried = TakeCallMessage(parsed);
  if (!carried.ok()) {
    SendError(frame.id(), carried.status());
    return;
  }
  const bool has_request = carried->has_value();
  // The first request message counts against the connection's budget until
  // its handler has consumed it. A unary or server-streaming call without one
  // gets the empty message.
  const std::string first_request =
      has_request ? **std::move(carried) : (ReadsStream(method->info.kind) || binary_ ? "" : "{}");
  if (!ReserveInbound(first_request.size())) {
    SendError(frame.id(), absl::ResourceExhaustedError(absl::StrCat(
                              "the connection has more than ", endpoint_.options.receive_queue_bytes,
                              " bytes of requests its handlers have not consumed yet")));
    return;
  }
  auto call = std::make_shared<Call>();
  call->id = frame.id();
  call->method = method;
  call->start = frame;
  const WebSocketOptions& o = endpoint_.options;
  {
    absl::MutexLock lock(&call->mu);
    call->send_credit = frame.credit() > 0 ? frame.credit() : o.initial_credit;
    call->receive_allowance = o.initial_credit;
    if (ReadsStream(method->info.kind)) {
      if (has_request) {
        call->inbound.push_back(first_request);
        --call->receive_allowance;
      }
    } else {
      // Unary and server streaming: `data` is the one request.
      call->inbound.push_back(first_request);
      call->half_closed = true;
    }
  }
  {
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) {
        refused = absl::CancelledError("the connection is closing");
      } else if (calls_.count(call->id) > 0 || subscriptions_.count(call->id) > 0) {
        refused = absl::AlreadyExistsError(absl::StrCat("id '", call->id, "' is already in use"));
      } else if (calls_.size() + subscriptions_.size() >= o.max_calls_per_connection) {
        refused = absl::ResourceExhaustedError(absl::StrCat(
            "at most ", o.max_calls_per_connection, " open calls and subscriptions per connection"));
      } else {
        calls_.emplace(call->id, call);
      }
    }
    if (!refused.ok()) {
      ReleaseInbound(first_request.size());
      if (!absl::IsCancelled(refused)) SendError(call->id, refused);
      return;
    }
  }
  // Waits on the call's state re-check their conditions when it is cancelled.
  std::weak_ptr<Call> weak = call;
  call->token.OnCancel([weak] {
    if (auto c = weak.lock()) absl::MutexLock lock(&c->mu);
  });
  if (endpoint_.in_flight != nullptr) endpoint_.in_flight->fetch_add(1);

  auto self = shared_from_this();
  if (method->info.kind == StreamKind::kUnary) {
    std::string request;
    {
      absl::MutexLock lock(&call->mu);
      request = std::move(call->inbound.front());
      call->inbound.clear();
    }
    auto task = [self, call, request = std::move(request)]() mutable {
      self->RunUnary(call, std::move(request));
    };
    if (HandlerPool* pool = endpoint_.dispatcher->handler_pool()) {
      pool->Submit(std::move(task));
    } else {
      std::thread(std::move(task)).detach();
    }
  } else {
    std::thread([self, call] { self->RunStream(call); }).detach();
  }
}

void WsConnection::RunUnary(std::shared_ptr<Call> call, std::string request_json) {
  Context context;
  InitContext(context, call->start, call->token);
  std::string response;
  absl::Status status = endpoint_.dispatcher->UnaryEncoded(*call->method, context, codec(),
                                                           request_json, &response);
  ReleaseInbound(request_json.size());
  FinishCall(call, status, response, &context);
}

void WsConnection::RunStream(std::shared_ptr<Call> call) {
  Context context;
  InitContext(context, call->start, call->token);
  CallStream io(*this, *call, endpoint_.options.initial_credit);
  absl::Status status = endpoint_.dispatcher->Stream(*call->method, context, io);
  if (!io.decode_status().ok()) status = io.decode_status();
  FinishCall(call, status, {}, &context);
}

void WsConnection::FinishCall(const std::shared_ptr<Call>& call, const absl::Status& status,
                              absl::string_view response_json, const Context* context) {
  bool abandoned;
  size_t unread = 0;  // request bytes the handler never consumed
  {
    absl::MutexLock lock(&call->mu);
    abandoned = call->abandoned;
    for (const std::string& message : call->inbound) unread += message.size();
    call->inbound.clear();
  }
  ReleaseInbound(unread);
  if (!abandoned) {
    v1::StreamFrame frame;
    frame.set_id(call->id);
    if (context != nullptr) {
      for (const auto& [key, value] : context->response_metadata()) {
        (*frame.mutable_metadata())[key] = value;
      }
    }
    if (!status.ok()) {
      frame.set_type("error");
      frame.set_code(std::string(ConnectCodeName(status.code())));
      frame.set_message(std::string(status.message()));
      Send(std::move(frame));
    } else if (call->method->info.kind == StreamKind::kUnary) {
      frame.set_type("response");
      queue_->Push(RenderCallFrame(std::move(frame), std::string(response_json)));
    } else {
      frame.set_type("end");
      frame.set_code("ok");
      Send(std::move(frame));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(call->id);
    if (it != calls_.end() && it->second == call) calls_.erase(it);
  }
  if (endpoint_.in_flight != nullptr) endpoint_.in_flight->fetch_sub(1);
}

std::shared_ptr<WsConnection::Call> WsConnection::FindCall(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second;
}

void WsConnection::OnCallMessage(ParsedFrame& parsed) {
  const std::string& id = parsed.frame.id();
  auto call = FindCall(id);
  if (call == nullptr) {
    SendError(id, absl::NotFoundError(absl::StrCat("no open call '", id.substr(0, 200), "'")));
    return;
  }
  auto carried = TakeCallMessage(parsed);
  // A message frame without one is the empty message.
  std::string message = carried.ok() && carried->has_value() ? **std::move(carried)
                        : binary_                            ? ""
                                                             : "{}";
  absl::Status refused = carried.status();
  {
    absl::MutexLock lock(&call->mu);
    if (!refused.ok()) {
      // a malformed message frame: the call ends as for any protocol violation
    } else if (!ReadsStream(call->method->info.kind) || call->half_closed) {
      refused = absl::FailedPreconditionError(absl::StrCat(
          "call '", id, "' takes no more messages (", call->method->info.full_name,
          call->half_closed ? " was half-closed)" : " does not read a request stream)"));
    } else if (call->receive_allowance <= 0) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "call '", id, "': message sent without credit (wait for a credit frame)"));
    } else if (!ReserveInbound(message.size())) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "call '", id, "': the connection has more than ", endpoint_.options.receive_queue_bytes,
          " bytes of requests its handlers have not consumed yet"));
    } else {
      --call->receive_allowance;
      call->inbound.push_back(std::move(message));
      return;
    }
  }
  // A protocol violation ends the call: the handler sees it cancelled.
  {
    absl::MutexLock lock(&call->mu);
    call->abandoned = true;
  }
  call->token.Cancel();
  SendError(id, refused);
}

void WsConnection::OnHalfClose(const std::string& id) {
  auto call = FindCall(id);
  if (call == nullptr) {
    SendError(id, absl::NotFoundError(absl::StrCat("no open call '", id.substr(0, 200), "'")));
    return;
  }
  absl::MutexLock lock(&call->mu);
  call->half_closed = true;
}

void WsConnection::OnCancel(const std::string& id) {
  auto call = FindCall(id);
  if (call == nullptr) return;  // already finished: nothing to cancel
  {
    absl::MutexLock lock(&call->mu);
    call->abandoned = true;
  }
  call->token.Cancel();
}

void WsConnection::OnCredit(const std::string& id, uint32_t credit) {
  auto call = FindCall(id);
  if (call == nullptr) return;  // the call may have just ended
  absl::MutexLock lock(&call->mu);
  call->send_credit += credit;
}

absl::Status WsConnection::AdmitTopicOperation(const char* method_name) {
  if (endpoint_.topics == nullptr) {
    return absl::UnimplementedError("this server has no topics");
  }
  Context context;
  InitContext(context, v1::StreamFrame(), CancellationToken());
  return endpoint_.dispatcher->Admit(TopicsMethod(method_name), context);
}

void WsConnection::Subscribe(const ParsedFrame& parsed) {
  const v1::StreamFrame& frame = parsed.frame;
  const std::string& id = frame.id();
  if (id.empty()) {
    SendError("", absl::InvalidArgumentError("subscribe: id is required"));
    return;
  }
  if (auto s = AdmitTopicOperation("Subscribe"); !s.ok()) {
    SendError(id, s);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    if (calls_.count(id) > 0 || subscriptions_.count(id) > 0) {
      SendError(id, absl::AlreadyExistsError(absl::StrCat("id '", id, "' is already in use")));
      return;
    }
    if (calls_.size() + subscriptions_.size() >= endpoint_.options.max_calls_per_connection) {
      SendError(id, absl::ResourceExhaustedError(absl::StrCat(
                        "at most ", endpoint_.options.max_calls_per_connection,
                        " open calls and subscriptions per connection")));
      return;
    }
    subscriptions_.emplace(id, 0);  // reserved until the backend answers
  }
  // Events the backend delivers before the `subscribed` frame is queued (the
  // resumed ones) wait here, so the client sees `subscribed` first.
  struct Gate {
    absl::Mutex mu;
    bool open ABSL_GUARDED_BY(mu) = false;
    std::deque<pubsub::TopicMessagePtr> held ABSL_GUARDED_BY(mu);
  };
  auto gate = std::make_shared<Gate>();
  auto queue = queue_;
  const bool binary = binary_;
  auto render = [id, binary](const pubsub::TopicMessage& message) {
    return binary ? RenderEvent(message, id, true) : RenderJsonEvent(message, id);
  };
  auto subscription = endpoint_.topics->Subscribe(
      frame.topic(), frame.sequence(),
      [gate, queue, render](const pubsub::TopicMessagePtr& message) {
        absl::MutexLock lock(&gate->mu);
        if (!gate->open) {
          gate->held.push_back(message);
          return;
        }
        queue->Push(render(*message));
      });
  if (!subscription.ok()) {
    {
      absl::MutexLock lock(&mu_);
      subscriptions_.erase(id);
    }
    SendError(id, subscription.status());
    return;
  }
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = stopped_;
    if (!stopped) subscriptions_[id] = subscription->id;
  }
  if (stopped) {
    endpoint_.topics->Unsubscribe(subscription->id);
    return;
  }
  v1::StreamFrame subscribed;
  subscribed.set_type("subscribed");
  subscribed.set_id(id);
  subscribed.set_topic(frame.topic());
  subscribed.set_sequence(subscription->last_sequence);
  subscribed.set_first_sequence(subscription->first_sequence);
  absl::MutexLock lock(&gate->mu);
  Send(std::move(subscribed));
  for (const auto& message : gate->held) queue->Push(render(*message));
  gate->held.clear();
  gate->open = true;
}

void WsConnection::Unsubscribe(const std::string& id) {
  uint64_t subscription = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end() || it->second == 0) {
      SendError(id, absl::NotFoundError(absl::StrCat("no subscription '", id.substr(0, 200), "'")));
      return;
    }
    subscription = it->second;
    subscriptions_.erase(it);
  }
  endpoint_.topics->Unsubscribe(subscription);
  v1::StreamFrame frame;
  frame.set_type("unsubscribed");
  frame.set_id(id);
  Send(std::move(frame));
}

void WsConnection::Publish(const ParsedFrame& parsed) {
  const v1::StreamFrame& frame = parsed.frame;
  if (auto s = AdmitTopicOperation("Publish"); !s.ok()) {
    SendError(frame.id(), s);
    return;
  }
  // Subscribers get what is stored: only well-formed JSON, written canonically.
  std::string data = "null";
  if (parsed.has_data) {
    google::protobuf::Value value;
    absl::Status valid = JsonCodec().Unmarshal(parsed.data_json, &value);
    if (valid.ok()) valid = JsonCodec().Marshal(value, &data);
    if (!valid.ok()) {
      SendError(frame.id(), absl::InvalidArgumentError(absl::StrCat("data: ", valid.message())));
      return;
    }
  }
  auto sequence = endpoint_.topics->Publish(frame.topic(), std::move(data));
  if (!sequence.ok()) {
    SendError(frame.id(), sequence.status());
    return;
  }
  v1::StreamFrame published;
  published.set_type("published");
  published.set_id(frame.id());
  published.set_topic(frame.topic());
  published.set_sequence(*sequence);
  Send(std::move(published));
}

void WsConnection::Stop() {
  std::map<std::string, std::shared_ptr<Call>> calls;
  std::map<std::string, uint64_t> subscriptions;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    calls = calls_;  // they remove themselves when they finish
    subscriptions.swap(subscriptions_);
  }
  for (const auto& [id, subscription] : subscriptions) {
    if (subscription != 0) endpoint_.topics->Unsubscribe(subscription);
  }
  for (const auto& [id, call] : calls) {
    {
      absl::MutexLock lock(&call->mu);
      call->abandoned = true;
    }
    call->token.Cancel();
  }
}

}  // namespace kei::websocket
