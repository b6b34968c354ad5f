// Per-call options every client API takes: deadline, metadata, retry and
// idempotency overrides, and an optional report of what happened.
#pragma once

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/dispatch/context.h"
#include "cc/dispatch/metadata.h"
#include "cc/retry/retry_policy.h"
#include "clients/protocol.h"

namespace kei {

// Filled in by the client when CallOptions::stats is set.
struct CallStats {
  int attempts = 0;
  // Protocol of the last attempt.
  Protocol protocol = Protocol::kGrpc;
  // Status of every attempt, in order.
  std::vector<absl::Status> attempt_statuses;
};

struct CallOptions {
  // Relative timeout; the earlier of this and `deadline` applies.
  absl::Duration timeout = absl::InfiniteDuration();
  absl::Time deadline = absl::InfiniteFuture();
  Metadata metadata;
  // Replaces the client's retry policy for this call.
  std::optional<RetryPolicy> retry;
  // Replaces the method's idempotency_level for this call.
  std::optional<bool> idempotent;
  CallStats* stats = nullptr;

  // Options for a call a handler makes while serving `context`: the
  // downstream call gets no more time than the handler's caller allowed.
  static CallOptions InheritDeadline(const Context& context) {
    CallOptions options;
    options.deadline = context.deadline();
    return options;
  }

  absl::Time EffectiveDeadline(absl::Time now = absl::Now()) const {
    if (timeout == absl::InfiniteDuration()) return deadline;
    return std::min(deadline, now + timeout);
  }
};

}  // namespace kei
