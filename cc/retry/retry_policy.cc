#include "cc/retry/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace kei {

absl::Duration BackoffCeiling(const RetryPolicy& policy, int retry_number) {
  double factor = std::pow(policy.backoff_multiplier, std::max(0, retry_number - 1));
  absl::Duration ceiling = policy.initial_backoff * factor;
  return std::min(ceiling, policy.max_backoff);
}

std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy, int attempts_made,
                                             const AttemptOutcome& outcome, bool idempotent,
                                             absl::Time deadline, absl::BitGenRef random) {
  if (outcome.status.ok() || attempts_made >= policy.max_attempts) return std::nullopt;
  bool safe = idempotent || !outcome.reached_server;
  if (!safe) return std::nullopt;

  std::optional<absl::Duration> delay;
  switch (outcome.status.code()) {
    case absl::StatusCode::kUnavailable:
      if (outcome.pushback.has_value()) {
        if (*outcome.pushback < absl::ZeroDuration()) return std::nullopt;
        delay = *outcome.pushback;
      }
      break;
    case absl::StatusCode::kResourceExhausted:
      // Only a server that asked for a retry gets one.
      if (!outcome.pushback.has_value() || *outcome.pushback < absl::ZeroDuration()) {
        return std::nullopt;
      }
      delay = *outcome.pushback;
      break;
    default:
      return std::nullopt;
  }
  if (!delay.has_value()) {
    // Full jitter: uniform in [0, ceiling].
    absl::Duration ceiling = BackoffCeiling(policy, attempts_made);
    double fraction = absl::Uniform(absl::IntervalClosed, random, 0.0, 1.0);
    delay = ceiling * fraction;
  }
  if (absl::Now() + *delay >= deadline) return std::nullopt;
  return delay;
}

}  // namespace kei
