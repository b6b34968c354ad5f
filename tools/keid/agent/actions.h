// The agent's built-in actions (echo, uppercase, count_words, add, sleep):
// parameter validation with field-level errors, and running them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/dispatch/context.h"
#include "google/protobuf/struct.pb.h"

namespace kei::agent {

// Limits on action parameters, so one request cannot pin much memory.
inline constexpr size_t kMaxActionTextBytes = 64 * 1024;
inline constexpr size_t kMaxAddValues = 4096;
inline constexpr double kMaxSleepMs = 60000;

// What an action produced.
struct ActionResult {
  google::protobuf::Value output;
  // One line, for ActResponse.summary and the ACTION_COMPLETED event.
  std::string summary;
};

// The built-in action names, sorted: add, count_words, echo, sleep, uppercase.
const std::vector<std::string>& ActionNames();

// Checks `params` for `action` without running it. INVALID_ARGUMENT with a
// field path, e.g. "params.values[2]: must be a number", or
// "action: unknown action 'x' (known: add, ...)".
absl::Status ValidateAction(absl::string_view action,
                            const google::protobuf::Struct& params);

// Validates and runs `action`. `sleep` waits with context.SleepFor and fails
// with CANCELLED or DEADLINE_EXCEEDED when the call ends first.
absl::StatusOr<ActionResult> RunAction(const Context& context,
                                       absl::string_view action,
                                       const google::protobuf::Struct& params);

// `text` cut to at most `max_bytes` bytes on a UTF-8 boundary (with "..."
// when cut), newlines turned into spaces: fit for one-line summaries.
std::string Abbreviate(absl::string_view text, size_t max_bytes = 60);

}  // namespace kei::agent
