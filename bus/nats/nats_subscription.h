// Subscriptions of the NATS backend. An ephemeral one reads an ordered
// JetStream push consumer; a group member pulls from the group's durable
// consumer (pull requests sized and timed by Next, dead letters past
// max_deliveries, held deliveries returned on Close). Both also take requests
// for their pattern. NATS callbacks only queue raw messages; Next decodes them.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "bus/backend.h"
#include "bus/nats/nats_connection.h"
#include "bus/nats/nats_group.h"

namespace kei::bus::nats {

// `spec` is validated; `bounds` are the stream's when it goes live.
absl::StatusOr<std::unique_ptr<Subscription>> SubscribeEphemeral(
    std::shared_ptr<NatsConnection> connection, const SubscribeSpec& spec,
    NatsConnection::Bounds bounds);

// As above for a member of spec.group, whose consumer exists and keeps
// `settings`.
absl::StatusOr<std::unique_ptr<Subscription>> SubscribeGroup(
    std::shared_ptr<NatsConnection> connection, const SubscribeSpec& spec,
    GroupSettings settings, NatsConnection::Bounds bounds);

}  // namespace kei::bus::nats
