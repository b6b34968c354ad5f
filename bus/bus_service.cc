#include "bus/bus_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bus/delivery_writer.h"
#include "bus/subject.h"
#include "cc/codec/proto_time.h"
#include "cc/codec/reusable_arena.h"

namespace kei::bus {
namespace {

// Deliveries per stream message: enough to amortize a message's cost, few
// enough to keep a batch's latency low.
constexpr size_t kMaxBatch = 256;
// Serialized bytes of deliveries per stream message (a larger delivery goes
// alone): under every transport's message limit (gRPC's 4 MiB, WebSocket's
// 1 MiB frames), as BusPublisher's batches are.
constexpr size_t kMaxBatchBytes = 512 * 1024;
constexpr absl::Duration kDefaultRequestTimeout = absl::Seconds(10);

}  // namespace

absl::StatusOr<SubscribeSpec> SpecFromRequest(const v1::SubscribeRequest& request) {
  SubscribeSpec spec;
  spec.pattern = request.topic();
  spec.group = request.group();
  const v1::StartPosition& start = request.start();
  switch (start.position_case()) {
    case v1::StartPosition::kAll:
      spec.start.kind = StartPosition::Kind::kAll;
      break;
    case v1::StartPosition::kSequence:
      spec.start.kind = StartPosition::Kind::kSequence;
      spec.start.sequence = start.sequence();
      break;
    case v1::StartPosition::kTime:
      spec.start.kind = StartPosition::Kind::kTime;
      spec.start.time = TimeFromProto(start.time());
      break;
    default:
      spec.start.kind = StartPosition::Kind::kNew;
  }
  GroupOptions& o = spec.group_options;
  if (request.has_ack_wait()) o.ack_wait = DurationFromProto(request.ack_wait());
  if (request.max_deliveries() != 0) o.max_deliveries = std::max(request.max_deliveries(), 0);
  for (const auto& d : request.backoff()) o.backoff.push_back(DurationFromProto(d));
  o.dead_letter_topic = request.dead_letter_topic();
  if (request.max_ack_pending() != 0) o.max_ack_pending = request.max_ack_pending();
  if (spec.group.empty() && (request.has_ack_wait() || request.max_deliveries() != 0 ||
                             request.backoff_size() > 0 || !o.dead_letter_topic.empty() ||
                             request.max_ack_pending() != 0)) {
    return absl::InvalidArgumentError(
        "ack_wait, max_deliveries, backoff, dead_letter_topic and max_ack_pending apply to "
        "groups only (set `group`)");
  }
  return spec;
}

namespace {

// Everything but the envelope.
void DeliveryFieldsToProto(const Delivery& delivery, v1::Delivery* out) {
  const Message& m = *delivery.message;
  out->set_topic(m.topic);
  out->set_sequence(m.sequence);
  out->set_ack_id(delivery.ack_id);
  out->set_attempt(delivery.attempt);
  out->set_reply_to(m.reply_to);
  TimeToProto(m.publish_time, out->mutable_publish_time());
}

}  // namespace

void DeliveryToProto(const Delivery& delivery, v1::Delivery* out) {
  DeliveryFieldsToProto(delivery, out);
  *out->mutable_envelope() = delivery.message->envelope();
}

BusService::BusService(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}

absl::Status BusService::Publish(Context& context, const v1::PublishRequest& request,
                                 v1::PublishResponse* response) {
  (void)context;
  auto result = backend_->Publish(request.topic(), request.envelope());
  if (!result.ok()) return result.status();
  response->set_id(result->id);
  response->set_sequence(result->sequence);
  response->set_duplicate(result->duplicate);
  return absl::OkStatus();
}

absl::Status BusService::PublishBatch(Context& context, const v1::PublishBatchRequest& request,
                                      v1::PublishBatchResponse* response) {
  (void)context;
  return Store(request.SerializeAsString(), response);
}

absl::Status BusService::Store(std::string batch, v1::PublishBatchResponse* response) {
  auto results = backend_->PublishSerializedBatch(std::move(batch));
  if (!results.ok()) return results.status();
  for (const auto& result : *results) {
    v1::PublishOutcome* outcome = response->add_outcomes();
    if (result.ok()) {
      outcome->mutable_response()->set_id(result->id);
      outcome->mutable_response()->set_sequence(result->sequence);
      outcome->mutable_response()->set_duplicate(result->duplicate);
    } else {
      outcome->set_code(static_cast<int32_t>(result.status().code()));
      outcome->set_message(std::string(result.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status BusService::PublishStream(
    Context& context, BidiStream<v1::PublishBatchRequest, v1::PublishBatchResponse>& stream) {
  // One batch at a time, in arrival order; the next ones wait in the
  // transport's buffers meanwhile, so the broker is never idle for a round trip.
  ReusableArena responses;  // one response at a time, sent before the next
  while (true) {
    // Each batch as the bytes it came in, which the broker may keep.
    std::string batch;
    if (!stream.ReceiveSerialized(&batch)) break;
    if (context.deadline_exceeded()) {
      return absl::DeadlineExceededError("the publish stream reached its deadline");
    }
    auto* response = responses.Fresh<v1::PublishBatchResponse>();
    if (auto s = Store(std::move(batch), response); !s.ok()) return s;
    if (!stream.Send(*response)) return absl::OkStatus();
  }
  return context.cancelled() ? absl::CancelledError("the publish stream was cancelled")
                             : absl::OkStatus();
}

absl::Status BusService::Subscribe(Context& context, const v1::SubscribeRequest& request,
                                   StreamWriter<v1::SubscribeResponse>& stream) {
  auto spec = SpecFromRequest(request);
  if (!spec.ok()) return spec.status();
  auto opened = backend_->Subscribe(*spec);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<Subscription> subscription = *std::move(opened);
  context.cancellation().OnCancel([subscription] { subscription->Close(); });
  if (context.cancelled()) return absl::OkStatus();

  v1::SubscribeResponse marker;
  marker.set_subscribed(true);
  marker.set_last_sequence(subscription->last_sequence());
  if (!stream.Send(marker)) return absl::OkStatus();
  std::string response;  // serialized, the stored envelopes' bytes copied in
  while (true) {
    auto deliveries = subscription->Next(kMaxBatch, context.deadline());
    if (!deliveries.ok()) {
      if (context.cancelled()) return absl::OkStatus();
      return deliveries.status();
    }
    if (deliveries->empty()) {
      if (context.deadline_exceeded()) {
        return absl::DeadlineExceededError("subscription reached its deadline");
      }
      continue;
    }
    response.clear();
    for (const Delivery& d : *deliveries) {
      const size_t before = response.size();
      AppendDelivery(d, &response);
      // A larger delivery goes alone.
      if (before > 0 && response.size() > kMaxBatchBytes) {
        if (!stream.SendSerialized(absl::string_view(response).substr(0, before))) {
          return absl::OkStatus();
        }
        response.erase(0, before);
      }
    }
    if (!stream.SendSerialized(response)) return absl::OkStatus();
  }
}

absl::Status BusService::Ack(Context& context, const v1::AckRequest& request,
                             v1::AckResponse* response) {
  (void)context;
  (void)response;
  for (const std::string& id : request.ack_ids()) {
    if (auto s = backend_->Ack(id); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status BusService::Nack(Context& context, const v1::NackRequest& request,
                              v1::NackResponse* response) {
  (void)context;
  (void)response;
  absl::Duration delay =
      request.has_delay() ? DurationFromProto(request.delay()) : absl::Seconds(-1);
  if (request.has_delay() && (delay < absl::ZeroDuration() || delay > kMaxGroupDelay)) {
    return absl::InvalidArgumentError("nack delay must be between 0 and 24 h");
  }
  for (const std::string& id : request.ack_ids()) {
    if (auto s = backend_->Nack(id, delay); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status BusService::Request(Context& context, const v1::RequestRequest& request,
                                 v1::RequestResponse* response) {
  absl::Time deadline =
      context.has_deadline() ? context.deadline() : absl::Now() + kDefaultRequestTimeout;
  auto reply = backend_->Request(request.topic(), request.envelope(), deadline);
  if (!reply.ok()) return reply.status();
  DeliveryToProto(Delivery{*std::move(reply), "", 1}, response->mutable_reply());
  return absl::OkStatus();
}

}  // namespace kei::bus
