// The NATS JetStream backend's entry points; see nats_backend.h for the
// mapping. Subscriptions live in nats_subscription.cc, groups in nats_group.cc.
#include "bus/nats/nats_backend.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bus/envelope.h"
#include "bus/nats/envelope_headers.h"
#include "bus/nats/nats_connection.h"
#include "bus/nats/nats_group.h"
#include "bus/nats/nats_subscription.h"
#include "bus/subject.h"

namespace kei::bus {
namespace {

// Longest wait a request's deadline turns into (InfiniteFuture included).
constexpr absl::Duration kMaxRequestWait = absl::Hours(24);

}  // namespace

absl::StatusOr<std::unique_ptr<NatsBackend>> NatsBackend::Connect(NatsBackendOptions options) {
  auto connection = nats::NatsConnection::Open(std::move(options));
  if (!connection.ok()) return connection.status();
  return std::unique_ptr<NatsBackend>(new NatsBackend(*std::move(connection)));
}

NatsBackend::~NatsBackend() { connection_->Close(); }

absl::StatusOr<PublishResult> NatsBackend::Publish(absl::string_view topic,
                                                   v1::Envelope envelope) {
  if (auto s = ValidateTopic(topic); !s.ok()) return s;
  FillEnvelopeDefaults(envelope, absl::Now());
  if (!absl::StartsWith(topic, kInboxPrefix)) {
    return connection_->PublishStored(topic, envelope, envelope.id());
  }
  // A reply: to the requester's inbox only, never stored.
  auto msg = nats::EncodeEnvelope(std::string(topic), "", envelope);
  if (!msg.ok()) return msg.status();
  if (natsStatus s = natsConnection_PublishMsg(connection_->nc(), msg->get()); s != NATS_OK) {
    return nats::NatsError(absl::StrCat("replying to '", topic, "'"), s);
  }
  return PublishResult{envelope.id(), 0, false};
}

std::vector<absl::StatusOr<PublishResult>> NatsBackend::PublishBatch(
    std::vector<std::pair<std::string, v1::Envelope>> batch) {
  return PublishInOrder(batch.size(), [&](size_t i) {
    return std::make_pair(absl::string_view(batch[i].first), &batch[i].second);
  });
}

std::vector<absl::StatusOr<PublishResult>> NatsBackend::PublishArenaBatch(ArenaBatch batch) {
  return PublishInOrder(batch->messages_size(), [&](size_t i) {
    v1::PublishRequest& m = *batch->mutable_messages(static_cast<int>(i));
    return std::make_pair(absl::string_view(m.topic()), m.mutable_envelope());
  });
}

std::vector<absl::StatusOr<PublishResult>> NatsBackend::PublishInOrder(
    size_t n, absl::FunctionRef<std::pair<absl::string_view, v1::Envelope*>(size_t)> at) {
  std::vector<absl::StatusOr<PublishResult>> results(n);  // each set below
  std::vector<nats::NatsConnection::OutgoingMessage> stored;
  std::vector<size_t> positions;
  absl::Time now = absl::Now();
  for (size_t i = 0; i < n; ++i) {
    auto [topic, envelope] = at(i);
    if (absl::StartsWith(topic, kInboxPrefix) || !ValidateTopic(topic).ok()) {
      results[i] = Publish(topic, *envelope);  // a reply, or the error
      continue;
    }
    FillEnvelopeDefaults(*envelope, now);
    stored.push_back({topic, envelope});
    positions.push_back(i);
  }
  std::vector<absl::StatusOr<PublishResult>> outcomes = connection_->PublishStoredBatch(stored);
  for (size_t j = 0; j < positions.size(); ++j) results[positions[j]] = std::move(outcomes[j]);
  return results;
}

absl::StatusOr<std::unique_ptr<Subscription>> NatsBackend::Subscribe(const SubscribeSpec& spec) {
  if (auto s = ValidatePattern(spec.pattern); !s.ok()) return s;
  if (!spec.group.empty()) {
    if (auto s = ValidateGroup(spec); !s.ok()) return s;
  }
  auto bounds = connection_->StreamBounds();
  if (!bounds.ok()) return bounds.status();
  if (spec.group.empty()) return nats::SubscribeEphemeral(connection_, spec, *bounds);
  auto settings = nats::JoinGroup(*connection_, spec, bounds->last);
  if (!settings.ok()) return settings.status();
  return nats::SubscribeGroup(connection_, spec, *std::move(settings), *bounds);
}

namespace {

absl::StatusOr<nats::AckSubject> ParseAckId(absl::string_view ack_id,
                                            const std::string& stream) {
  std::optional<nats::AckSubject> ack = nats::ParseAckSubject(ack_id);
  if (!ack) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed ack id '", ack_id, "' (expected a JetStream ack subject \"$JS.ACK....\")"));
  }
  if (ack->stream != stream) {
    return absl::InvalidArgumentError(
        absl::StrCat("ack id '", ack_id, "' is for stream '", ack->stream, "', not '", stream, "'"));
  }
  return *std::move(ack);
}

}  // namespace

absl::Status NatsBackend::Ack(absl::string_view ack_id) {
  auto ack = ParseAckId(ack_id, connection_->options().stream_name);
  if (!ack.ok()) return ack.status();
  return connection_->PublishRaw(std::string(ack_id), "+ACK");
}

absl::Status NatsBackend::Nack(absl::string_view ack_id, absl::Duration delay) {
  auto ack = ParseAckId(ack_id, connection_->options().stream_name);
  if (!ack.ok()) return ack.status();
  if (delay < absl::ZeroDuration()) {
    auto options = nats::FindGroup(*connection_, ack->consumer);
    delay = options.ok() ? nats::Backoff(*options, ack->delivered) : absl::ZeroDuration();
  }
  std::string nak = delay > absl::ZeroDuration()
                        ? absl::StrCat("-NAK {\"delay\": ", absl::ToInt64Nanoseconds(delay), "}")
                        : "-NAK";
  return connection_->PublishRaw(std::string(ack_id), nak);
}

absl::StatusOr<MessagePtr> NatsBackend::Request(absl::string_view topic, v1::Envelope envelope,
                                                absl::Time deadline) {
  if (auto s = ValidateTopic(topic); !s.ok()) return s;
  if (absl::StartsWith(topic, kInboxPrefix)) {
    return absl::InvalidArgumentError("requests cannot be sent to reply topics");
  }
  FillEnvelopeDefaults(envelope, absl::Now());
  auto msg = nats::EncodeEnvelope(connection_->ReqSubject(topic), "", envelope);
  if (!msg.ok()) return msg.status();
  absl::Duration wait = std::clamp(deadline - absl::Now(), absl::Milliseconds(1), kMaxRequestWait);
  natsMsg* raw = nullptr;
  natsStatus s = natsConnection_RequestMsg(&raw, connection_->nc(), msg->get(),
                                           absl::ToInt64Milliseconds(wait));
  if (s == NATS_NO_RESPONDERS) {
    return absl::UnavailableError(absl::StrCat("no responders for topic '", topic, "'"));
  }
  if (s == NATS_TIMEOUT) {
    return absl::DeadlineExceededError(
        absl::StrCat("no reply from '", topic, "' before the deadline"));
  }
  if (s != NATS_OK) return nats::NatsError(absl::StrCat("requesting '", topic, "'"), s);
  nats::NatsMsgPtr reply(raw);
  auto message = NewMessage();
  message->topic = natsMsg_GetSubject(reply.get());
  message->publish_time = absl::Now();
  message->mutable_envelope() = nats::DecodeEnvelope(reply.get());
  return message;
}

}  // namespace kei::bus
