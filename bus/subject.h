// Topic names and subscription patterns, with NATS subject rules so both
// backends route alike: dot-separated tokens of [A-Za-z0-9_-]; in patterns a
// `*` token matches exactly one token and a final `>` one or more. Also the
// rules for consumer groups, which both backends check the same way.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bus/backend.h"

namespace kei::bus {

inline constexpr size_t kMaxTopicLength = 256;
// Replies to requests go to topics under this prefix (never stored).
inline constexpr absl::string_view kInboxPrefix = "_INBOX.";
// The longest ack wait, backoff step or nack delay a group accepts.
inline constexpr absl::Duration kMaxGroupDelay = absl::Hours(24);

// INVALID_ARGUMENT naming the problem, for a topic one can publish to.
absl::Status ValidateTopic(absl::string_view topic);
// INVALID_ARGUMENT naming the problem, for a subscription pattern.
absl::Status ValidatePattern(absl::string_view pattern);
// Whether `topic` (valid) matches `pattern` (valid).
bool TopicMatches(absl::string_view pattern, absl::string_view topic);
// INVALID_ARGUMENT naming the problem for a group subscription: a group name
// of 1-64 [A-Za-z0-9_-] (a file name and a NATS consumer name alike), delays
// of at most kMaxGroupDelay, and a dead-letter topic outside the group's own
// pattern (or the group would read its dead letters forever).
absl::Status ValidateGroup(const SubscribeSpec& spec);
// Whether the pattern has wildcards.
bool IsWildcardPattern(absl::string_view pattern);

}  // namespace kei::bus
