// Consumer groups on JetStream: a group is a durable pull consumer named after
// it and filtered on the group's pattern. The options its first subscriber
// chose travel in the consumer's description, so members in every process, and
// a Nack from anywhere, apply the same ones.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bus/backend.h"
#include "bus/nats/nats_connection.h"

namespace kei::bus::nats {

// What a group keeps from its first subscriber.
struct GroupSettings {
  GroupOptions options;
  // A kTime start: older messages are acknowledged unseen (see ApplyStart).
  absl::Time not_before = absl::InfinitePast();
};

// The settings the group keeps, creating its consumer from `spec` when there
// is none yet (kNew starts after `last_sequence`). FAILED_PRECONDITION when
// the group reads another pattern.
absl::StatusOr<GroupSettings> JoinGroup(NatsConnection& connection, const SubscribeSpec& spec,
                                       uint64_t last_sequence);

// The options of an existing group; NOT_FOUND when there is no such group.
absl::StatusOr<GroupOptions> FindGroup(NatsConnection& connection, const std::string& group);

// Where the group's messages go after max_deliveries.
std::string DeadLetterTopic(const std::string& group, const GroupOptions& options);

// The backoff before redelivering a message after its attempt `attempt`
// (zero without backoff).
absl::Duration Backoff(const GroupOptions& options, uint32_t attempt);

}  // namespace kei::bus::nats
