// Topic names and subscription patterns, with NATS subject rules so both
// backends route alike: dot-separated tokens of [A-Za-z0-9_-]; in patterns a
// `*` token matches exactly one token and a final `>` one or more.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kei::bus {

inline constexpr size_t kMaxTopicLength = 256;
// Replies to requests go to topics under this prefix (never stored).
inline constexpr absl::string_view kInboxPrefix = "_INBOX.";

// INVALID_ARGUMENT naming the problem, for a topic one can publish to.
absl::Status ValidateTopic(absl::string_view topic);
// INVALID_ARGUMENT naming the problem, for a subscription pattern.
absl::Status ValidatePattern(absl::string_view pattern);
// Whether `topic` (valid) matches `pattern` (valid).
bool TopicMatches(absl::string_view pattern, absl::string_view topic);
// Whether the pattern has wildcards.
bool IsWildcardPattern(absl::string_view pattern);

}  // namespace kei::bus
