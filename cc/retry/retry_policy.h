// The retry and deadline policy every client transport shares: exponential
// backoff with full jitter, a bounded number of attempts, and retries only when
// they are safe: the code is retryable (UNAVAILABLE; RESOURCE_EXHAUSTED only
// with server pushback), and the method is idempotent or the call never reached
// the server. Backoff never outlives the call's deadline.
#pragma once

#include <optional>

#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kei {

struct RetryPolicy {
  // Total attempts including the first; 1 disables retries.
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  double backoff_multiplier = 2.0;

  static RetryPolicy None() {
    RetryPolicy p;
    p.max_attempts = 1;
    return p;
  }
};

// What the transport learned from one attempt.
struct AttemptOutcome {
  absl::Status status;
  // False only when the transport knows the request never left the client
  // (e.g. connection refused); true when unsure.
  bool reached_server = true;
  // Server pushback (gRPC "grpc-retry-pushback-ms", HTTP Retry-After);
  // a negative value means "do not retry".
  std::optional<absl::Duration> pushback;
};

// Upper bound of the backoff before attempt `retry_number` (1 for the first
// retry): min(max_backoff, initial_backoff * multiplier^(retry_number-1)).
absl::Duration BackoffCeiling(const RetryPolicy& policy, int retry_number);

// The delay before the next attempt, or nullopt when the call must not be
// retried. `attempts_made` counts the attempts so far (>= 1).
std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy, int attempts_made,
                                             const AttemptOutcome& outcome, bool idempotent,
                                             absl::Time deadline, absl::BitGenRef random);

}  // namespace kei
