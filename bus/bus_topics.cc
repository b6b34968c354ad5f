#include "bus/bus_topics.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "bus/subject.h"
#include "cc/codec/json_codec.h"
#include "nlohmann/json.hpp"

namespace kei::bus {
namespace {

constexpr absl::string_view kJsonContentType = "application/json";
// How long a pump waits for messages before it looks at whether it should stop.
constexpr absl::Duration kPumpWait = absl::Seconds(1);
// How long a pump whose subscription failed waits before subscribing again.
constexpr absl::Duration kResubscribeDelay = absl::Milliseconds(200);

bool IsJsonContentType(absl::string_view type) {
  type = type.substr(0, type.find(';'));
  return type == kJsonContentType || absl::EndsWith(type, "+json");
}

std::string JsonString(absl::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string PayloadAsJson(const v1::Envelope& envelope) {
  if (envelope.has_proto_data()) {
    std::string json;
    if (JsonCodec().Marshal(envelope.proto_data(), &json).ok()) return json;
    return JsonString(absl::Base64Escape(envelope.proto_data().value()));
  }
  const std::string& data = envelope.binary_data();
  if (IsJsonContentType(envelope.datacontenttype())) {
    if (nlohmann::json::accept(data)) return data;
  } else if (absl::StartsWith(envelope.datacontenttype(), "text/")) {
    return JsonString(data);
  }
  return JsonString(absl::Base64Escape(data));
}

BusTopics::BusTopics(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}

BusTopics::~BusTopics() {
  std::vector<uint64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, pump] : pumps_) ids.push_back(id);
  }
  for (uint64_t id : ids) Unsubscribe(id);
}

absl::StatusOr<uint64_t> BusTopics::Publish(absl::string_view topic, std::string data_json) {
  v1::Envelope envelope;
  envelope.set_source("kei://topics");
  envelope.set_type("dev.kei.topic.message");
  envelope.set_datacontenttype(std::string(kJsonContentType));
  envelope.set_binary_data(std::move(data_json));
  auto result = backend_->Publish(topic, std::move(envelope));
  if (!result.ok()) return result.status();
  return result->sequence;
}

absl::StatusOr<pubsub::Subscription> BusTopics::Subscribe(absl::string_view topic,
                                                          uint64_t after_sequence,
                                                          pubsub::TopicCallback callback) {
  SubscribeSpec spec;
  spec.pattern = std::string(topic);
  spec.accepts_requests = false;  // topic frames cannot reply
  if (after_sequence > 0) {
    spec.start.kind = StartPosition::Kind::kSequence;
    spec.start.sequence = after_sequence + 1;
  }
  auto opened = backend_->Subscribe(spec);
  if (!opened.ok()) return opened.status();
  auto state = std::make_shared<PumpState>();
  state->current = *std::move(opened);
  pubsub::Subscription out;
  out.last_sequence = state->current->last_sequence();
  out.first_sequence = state->current->first_sequence();
  absl::MutexLock lock(&mu_);
  out.id = next_id_++;
  Pump& pump = pumps_[out.id];
  pump.state = state;
  pump.thread = std::thread([backend = backend_, spec, state, callback = std::move(callback)] {
    uint64_t last = 0;  // the newest sequence handed to `callback`
    while (true) {
      std::shared_ptr<Subscription> subscription;
      {
        absl::MutexLock lock(&state->mu);
        if (state->stopped) return;
        subscription = state->current;
      }
      auto deliveries = subscription->Next(256, absl::Now() + kPumpWait);
      if (!deliveries.ok()) {
        // Fell behind retention, or the engine went away: subscribe again
        // after what was delivered (at most once: a gap is possible, and the
        // sequences show it), until unsubscribed.
        absl::MutexLock lock(&state->mu);
        auto stopped = [&] { return state->stopped; };
        if (state->mu.AwaitWithTimeout(absl::Condition(&stopped), kResubscribeDelay)) return;
        SubscribeSpec again = spec;
        if (last > 0) {
          again.start.kind = StartPosition::Kind::kSequence;
          again.start.sequence = last + 1;
        }
        auto reopened = backend->Subscribe(again);
        if (reopened.ok()) state->current = *std::move(reopened);
        continue;
      }
      for (const Delivery& d : *deliveries) {
        auto message = std::make_shared<pubsub::TopicMessage>();
        message->topic = d.message->topic;
        message->sequence = d.message->sequence;
        message->time = d.message->publish_time;
        message->data_json = PayloadAsJson(d.message->envelope);
        last = std::max(last, message->sequence);
        callback(message);
      }
    }
  });
  return out;
}

void BusTopics::Unsubscribe(uint64_t subscription_id) {
  Pump pump;
  {
    absl::MutexLock lock(&mu_);
    auto it = pumps_.find(subscription_id);
    if (it == pumps_.end()) return;
    pump = std::move(it->second);
    pumps_.erase(it);
  }
  {
    absl::MutexLock lock(&pump.state->mu);
    pump.state->stopped = true;
    pump.state->current->Close();
  }
  if (pump.thread.joinable()) pump.thread.join();
}

}  // namespace kei::bus
