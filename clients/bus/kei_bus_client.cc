// KEIBusClient over the Transport interface: unary calls through the shared
// retry invoker, each subscription read by a thread of its own.
#include "clients/bus/kei_bus_client.h"

#include <errno.h>  // program_invocation_short_name

#include <algorithm>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/algorithm/container.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bus/envelope.h"
#include "cc/codec/proto_time.h"
#include "cc/codec/reusable_arena.h"
#include "clients/protocol_client_factory.h"
#include "clients/unary_invoker.h"

namespace kei {
namespace {

using bus::v1::Delivery;
using bus::v1::Envelope;

// Method infos of kei.bus.v1.Bus, built once.
const MethodInfo& BusMethod(const char* name) {
  static const auto* methods = [] {
    auto* out = new std::map<std::string, MethodInfo, std::less<>>();
    const auto* service = bus::v1::PublishRequest::descriptor()->file()->FindServiceByName("Bus");
    for (int i = 0; i < service->method_count(); ++i) {
      out->emplace(service->method(i)->name(), MethodInfo::FromDescriptor(service->method(i)));
    }
    return out;
  }();
  return methods->find(name)->second;
}

template <class Response>
absl::StatusOr<Response> Invoke(Transport& transport, const char* method,
                                const google::protobuf::Message& request,
                                const CallOptions& options, const RetryPolicy& retry) {
  Response response;
  absl::Status status =
      InvokeUnary(transport, BusMethod(method), request, &response, options, retry);
  if (!status.ok()) return status;
  return response;
}

// Acks are idempotent (the server ignores ids it no longer knows): retried.
absl::Status SendAck(Transport& transport, const std::vector<std::string>& ack_ids,
                     CallOptions options, const RetryPolicy& retry) {
  if (ack_ids.empty()) return absl::OkStatus();
  bus::v1::AckRequest request;
  for (const auto& id : ack_ids) request.add_ack_ids(id);
  options.idempotent = options.idempotent.value_or(true);
  return Invoke<bus::v1::AckResponse>(transport, "Ack", request, options, retry).status();
}

bus::v1::SubscribeRequest ToRequest(const std::string& topic, const SubscribeOptions& options) {
  bus::v1::SubscribeRequest request;
  request.set_topic(topic);
  request.set_group(options.group);
  *request.mutable_start() = options.start;
  if (options.ack_wait > absl::ZeroDuration()) {
    DurationToProto(options.ack_wait, request.mutable_ack_wait());
  }
  request.set_max_deliveries(options.max_deliveries);
  for (absl::Duration delay : options.backoff) DurationToProto(delay, request.add_backoff());
  request.set_dead_letter_topic(options.dead_letter_topic);
  request.set_max_ack_pending(options.max_ack_pending);
  return request;
}

bool IsTopicTokenChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; }

}  // namespace

// ---- SubscribeOptions ----------------------------------------------------------------

SubscribeOptions& SubscribeOptions::StartNew() {
  start.set_new_only(true);
  return *this;
}

SubscribeOptions& SubscribeOptions::StartAll() {
  start.set_all(true);
  return *this;
}

SubscribeOptions& SubscribeOptions::StartAtSequence(uint64_t sequence) {
  start.set_sequence(sequence);
  return *this;
}

SubscribeOptions& SubscribeOptions::StartAtTime(absl::Time time) {
  TimeToProto(time, start.mutable_time());
  return *this;
}

// ---- BusSubscription -----------------------------------------------------------------

BusSubscription::BusSubscription(std::unique_ptr<ClientStream> stream, size_t buffer,
                                 Handler handler)
    : stream_(std::move(stream)),
      buffer_(std::max<size_t>(1, buffer)),
      handler_(std::move(handler)) {
  reader_ = std::thread([this] { ReaderLoop(); });
}

BusSubscription::~BusSubscription() {
  Close();
  reader_.join();
}

void BusSubscription::ReaderLoop() {
  // Handler style: each response in an arena, gone once its deliveries were
  // handled. Iterator style keeps a heap response, whose deliveries move into
  // the queue uncopied.
  ReusableArena arena;
  bus::v1::SubscribeResponse queued;
  for (;;) {
    {
      // A full buffer stops the reading, so flow control holds the server back.
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return closed_ || queue_.size() < buffer_;
      };
      mu_.Await(absl::Condition(&room));
    }
    bus::v1::SubscribeResponse* response = &queued;
    if (handler_) {
      response = arena.Fresh<bus::v1::SubscribeResponse>();
    } else {
      queued.Clear();
    }
    if (!stream_->Read(response)) break;  // after Close, the cancelled stream ends soon
    Dispatch(*response);
  }
  absl::Status status = stream_->Finish();
  absl::MutexLock lock(&mu_);
  ended_ = true;
  if (closed_) {
    status_ = absl::CancelledError("the subscription was closed");
  } else if (status.ok()) {
    status_ = absl::UnavailableError("the server ended the subscription");
  } else {
    status_ = status;
  }
}

void BusSubscription::Dispatch(bus::v1::SubscribeResponse& response) {
  {
    absl::MutexLock lock(&mu_);
    if (response.subscribed()) {
      subscribed_ = true;
      last_sequence_ = response.last_sequence();
    }
    if (!handler_) {
      if (closed_) return;
      for (auto& delivery : *response.mutable_deliveries()) queue_.push_back(std::move(delivery));
      return;
    }
  }
  for (const auto& delivery : response.deliveries()) {
    if (closing_.load(std::memory_order_acquire)) return;
    try {
      handler_(delivery);
    } catch (...) {
      absl::MutexLock lock(&mu_);
      ++handler_errors_;
    }
  }
}

absl::Status BusSubscription::AwaitSubscribed(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return subscribed_ || ended_; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&settled), deadline)) {
    return absl::DeadlineExceededError("the server did not confirm the subscription in time");
  }
  return subscribed_ ? absl::OkStatus() : status_;
}

absl::StatusOr<std::optional<Delivery>> BusSubscription::Next(absl::Duration timeout) {
  if (handler_) {
    return absl::FailedPreconditionError("this subscription's deliveries go to its handler");
  }
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || ended_ || !queue_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (!queue_.empty()) {
    Delivery delivery = std::move(queue_.front());
    queue_.pop_front();
    return std::make_optional(std::move(delivery));
  }
  if (closed_) return absl::CancelledError("the subscription was closed");
  if (ended_) return status_;
  return std::nullopt;
}

std::optional<absl::Status> BusSubscription::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended), timeout)) return std::nullopt;
  return status_;
}

void BusSubscription::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    closing_.store(true, std::memory_order_release);
    queue_.clear();
  }
  stream_->Cancel();
}

uint64_t BusSubscription::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

uint64_t BusSubscription::handler_errors() const {
  absl::MutexLock lock(&mu_);
  return handler_errors_;
}

// ---- Envelopes -----------------------------------------------------------------------

Envelope ProtoEnvelope(const google::protobuf::Message& payload) {
  return bus::ProtoEnvelope(payload);
}

Envelope DataEnvelope(std::string data, absl::string_view content_type) {
  Envelope envelope;
  envelope.set_binary_data(std::move(data));
  envelope.set_datacontenttype(std::string(content_type));
  return envelope;
}

std::string AgentInboxTopic(absl::string_view agent) {
  return absl::StrCat("agent.", agent, ".inbox");
}

// ---- KEIBusClient --------------------------------------------------------------------

KEIBusClient::KEIBusClient(std::shared_ptr<Transport> transport, RetryPolicy retry)
    : transport_(std::move(transport)),
      retry_(retry),
      source_(absl::StrCat("kei://agent/", program_invocation_short_name)) {}

absl::StatusOr<std::unique_ptr<KEIBusClient>> KEIBusClient::Connect(absl::string_view url,
                                                                    const ClientConfig& config) {
  // No transport-wide deadline, or every subscription would end with it; the
  // client applies config.default_timeout to its unary calls instead.
  ClientConfig transport_config = config;
  transport_config.default_timeout = absl::InfiniteDuration();
  auto transport = ProtocolClientFactory::Default().CreateTransport(url, transport_config);
  if (!transport.ok()) return transport.status();
  auto client = std::make_unique<KEIBusClient>(*std::move(transport), config.retry);
  client->default_timeout_ = config.default_timeout;
  return client;
}

CallOptions KEIBusClient::WithDefaultTimeout(const CallOptions& options) const {
  CallOptions out = options;
  if (out.EffectiveDeadline() == absl::InfiniteFuture()) out.timeout = default_timeout_;
  return out;
}

absl::StatusOr<bus::v1::PublishResponse> KEIBusClient::Publish(const std::string& topic,
                                                               Envelope envelope,
                                                               const CallOptions& options) {
  bus::v1::PublishRequest request;
  request.set_topic(topic);
  // The id is fixed before the first attempt: a retry is a duplicate the
  // server recognises, so publishing is retried like an idempotent call.
  bus::FillEnvelopeDefaults(envelope, absl::Now());
  *request.mutable_envelope() = std::move(envelope);
  CallOptions call = WithDefaultTimeout(options);
  call.idempotent = options.idempotent.value_or(true);
  return Invoke<bus::v1::PublishResponse>(*transport_, "Publish", request, call, retry_);
}

absl::StatusOr<bus::v1::PublishBatchResponse> KEIBusClient::PublishBatch(
    bus::v1::PublishBatchRequest request, const CallOptions& options) {
  absl::Time now = absl::Now();
  for (bus::v1::PublishRequest& m : *request.mutable_messages()) {
    bus::FillEnvelopeDefaults(*m.mutable_envelope(), now);
  }
  CallOptions call = WithDefaultTimeout(options);
  call.idempotent = options.idempotent.value_or(true);
  return Invoke<bus::v1::PublishBatchResponse>(*transport_, "PublishBatch", request, call, retry_);
}

absl::StatusOr<std::unique_ptr<ClientStream>> KEIBusClient::OpenPublishStream(
    const CallOptions& options) {
  return transport_->OpenStream(BusMethod("PublishStream"), options);
}

absl::StatusOr<bus::v1::PublishResponse> KEIBusClient::Publish(
    const std::string& topic, const google::protobuf::Message& payload,
    const CallOptions& options) {
  return Publish(topic, ProtoEnvelope(payload), options);
}

absl::StatusOr<bus::v1::PublishResponse> KEIBusClient::Publish(const std::string& topic,
                                                               absl::string_view data,
                                                               absl::string_view content_type,
                                                               const CallOptions& options) {
  return Publish(topic, DataEnvelope(std::string(data), content_type), options);
}

absl::StatusOr<std::unique_ptr<BusSubscription>> KEIBusClient::Subscribe(
    const std::string& topic, SubscribeOptions subscribe, const CallOptions& options) {
  if (subscribe.auto_ack) {
    return absl::InvalidArgumentError("auto_ack needs a handler: ack what Next returns with Ack");
  }
  return Open(topic, subscribe, nullptr, options);
}

absl::StatusOr<std::unique_ptr<BusSubscription>> KEIBusClient::Subscribe(
    const std::string& topic, SubscribeOptions subscribe, BusSubscription::Handler handler,
    const CallOptions& options) {
  if (!handler) return absl::InvalidArgumentError("Subscribe needs a handler");
  if (subscribe.auto_ack) {
    CallOptions ack_options = WithDefaultTimeout(CallOptions{});
    ack_options.metadata = options.metadata;
    handler = [user = std::move(handler), transport = transport_, retry = retry_,
               ack_options](const Delivery& delivery) {
      user(delivery);  // a throw skips the ack: the group redelivers
      if (!delivery.ack_id().empty()) {
        // A failed ack is like a lost one: the delivery comes again after ack_wait.
        SendAck(*transport, {delivery.ack_id()}, ack_options, retry).IgnoreError();
      }
    };
  }
  return Open(topic, subscribe, std::move(handler), options);
}

absl::StatusOr<std::unique_ptr<BusSubscription>> KEIBusClient::Open(
    const std::string& topic, const SubscribeOptions& subscribe,
    BusSubscription::Handler handler, const CallOptions& options) {
  thread_local absl::BitGen random;
  const RetryPolicy& policy = options.retry ? *options.retry : retry_;
  const bus::v1::SubscribeRequest request = ToRequest(topic, subscribe);
  const absl::Time confirm_by =
      std::min(options.EffectiveDeadline(), absl::Now() + subscribe.subscribe_timeout);
  for (int attempt = 1;; ++attempt) {
    absl::Status status;
    auto stream = transport_->OpenStream(BusMethod("Subscribe"), options);
    if (!stream.ok()) {
      status = stream.status();
    } else if (!(*stream)->Write(request) || !(*stream)->CloseSend()) {
      status = (*stream)->Finish();
      if (status.ok()) status = absl::UnavailableError("the subscribe request could not be sent");
    } else {
      std::unique_ptr<BusSubscription> subscription(
          new BusSubscription(*std::move(stream), subscribe.buffer, handler));
      status = subscription->AwaitSubscribed(confirm_by);
      if (status.ok()) return subscription;
    }
    // An unconfirmed subscription delivered nothing, and joining a group
    // twice is joining it once: any attempt may be repeated.
    AttemptOutcome outcome;
    outcome.status = status;
    auto delay = NextRetryDelay(policy, attempt, outcome, /*idempotent=*/true, confirm_by, random);
    if (!delay) return status;
    absl::SleepFor(*delay);
  }
}

absl::Status KEIBusClient::Ack(const std::vector<std::string>& ack_ids,
                               const CallOptions& options) {
  return SendAck(*transport_, ack_ids, WithDefaultTimeout(options), retry_);
}

absl::Status KEIBusClient::Ack(const Delivery& delivery, const CallOptions& options) {
  if (delivery.ack_id().empty()) {
    return absl::FailedPreconditionError("the delivery has no ack_id (not from a consumer group)");
  }
  return Ack(std::vector<std::string>{delivery.ack_id()}, options);
}

absl::Status KEIBusClient::Nack(const std::vector<std::string>& ack_ids, absl::Duration delay,
                                const CallOptions& options) {
  if (ack_ids.empty()) return absl::OkStatus();
  bus::v1::NackRequest request;
  for (const auto& id : ack_ids) request.add_ack_ids(id);
  if (delay >= absl::ZeroDuration()) DurationToProto(delay, request.mutable_delay());
  // Asking twice for one redelivery is asking once: retried.
  CallOptions call = WithDefaultTimeout(options);
  call.idempotent = options.idempotent.value_or(true);
  return Invoke<bus::v1::NackResponse>(*transport_, "Nack", request, call, retry_).status();
}

absl::Status KEIBusClient::Nack(const Delivery& delivery, absl::Duration delay,
                                const CallOptions& options) {
  if (delivery.ack_id().empty()) {
    return absl::FailedPreconditionError("the delivery has no ack_id (not from a consumer group)");
  }
  return Nack(std::vector<std::string>{delivery.ack_id()}, delay, options);
}

absl::StatusOr<Delivery> KEIBusClient::Request(const std::string& topic, Envelope envelope,
                                               absl::Duration timeout,
                                               const CallOptions& options) {
  bus::v1::RequestRequest request;
  request.set_topic(topic);
  bus::FillEnvelopeDefaults(envelope, absl::Now());
  *request.mutable_envelope() = std::move(envelope);
  CallOptions call = options;
  call.timeout = std::min(options.timeout, timeout);
  // Responders may have seen a request whose call failed: only one that never
  // left the client is sent again (no DEADLINE_EXCEEDED or "no responders"
  // retry).
  call.idempotent = false;
  auto response = Invoke<bus::v1::RequestResponse>(*transport_, "Request", request, call, retry_);
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_reply());
}

absl::Status KEIBusClient::Reply(const Delivery& request, Envelope reply,
                                 const CallOptions& options) {
  if (request.reply_to().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the delivery on '", request.topic(), "' is not a request (it has no reply_to)"));
  }
  return Publish(request.reply_to(), std::move(reply), options).status();
}

absl::StatusOr<bus::v1::PublishResponse> KEIBusClient::SendAgentMessage(
    const std::string& target, const std::string& type, const google::protobuf::Message& payload,
    const CallOptions& options) {
  return PublishToAgent(target, type, ProtoEnvelope(payload), options);
}

absl::StatusOr<bus::v1::PublishResponse> KEIBusClient::SendAgentMessage(
    const std::string& target, const std::string& type, absl::string_view json,
    const CallOptions& options) {
  if (!nlohmann::json::accept(json.begin(), json.end())) {
    return absl::InvalidArgumentError("the agent message payload is not JSON");
  }
  return PublishToAgent(target, type, DataEnvelope(std::string(json), "application/json"),
                        options);
}

absl::StatusOr<bus::v1::PublishResponse> KEIBusClient::PublishToAgent(const std::string& target,
                                                                      const std::string& type,
                                                                      Envelope envelope,
                                                                      const CallOptions& options) {
  if (target.empty() || !absl::c_all_of(target, IsTopicTokenChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "agent name '", target, "' must be one topic token of [A-Za-z0-9_-]"));
  }
  envelope.set_type(type);
  envelope.set_source(source());
  return Publish(AgentInboxTopic(target), std::move(envelope), options);
}

void KEIBusClient::set_source(std::string source) {
  absl::MutexLock lock(&source_mu_);
  source_ = std::move(source);
}

std::string KEIBusClient::source() const {
  absl::MutexLock lock(&source_mu_);
  return source_;
}

}  // namespace kei
