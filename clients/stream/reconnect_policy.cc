#include "clients/stream/reconnect_policy.h"

#include "absl/random/distributions.h"
#include "cc/retry/retry_policy.h"

namespace kei {

absl::Duration ReconnectCeiling(const ReconnectPolicy& policy, int attempt) {
  RetryPolicy retry;
  retry.initial_backoff = policy.initial_backoff;
  retry.max_backoff = policy.max_backoff;
  retry.backoff_multiplier = policy.multiplier;
  return BackoffCeiling(retry, attempt);
}

absl::Duration ReconnectDelay(const ReconnectPolicy& policy, int attempt, absl::BitGenRef random) {
  absl::Duration ceiling = ReconnectCeiling(policy, attempt);
  if (!policy.jitter || ceiling <= absl::ZeroDuration()) return ceiling;
  double fraction = absl::Uniform(absl::IntervalClosedClosed, random, 0.0, 1.0);
  return ceiling * fraction;
}

bool ShouldReconnect(const ReconnectPolicy& policy, int failed_attempts) {
  return policy.enabled && (policy.max_attempts <= 0 || failed_attempts < policy.max_attempts);
}

}  // namespace kei
