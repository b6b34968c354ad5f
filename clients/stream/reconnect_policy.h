// When a KEIStreamClient reconnects after losing its connection: exponential
// backoff with full jitter (the ceiling math is the kit's shared
// BackoffCeiling, cc/retry/retry_policy.h), for at most `max_attempts` tries
// in a row (0: until Disconnect).
#pragma once

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace kei {

struct ReconnectPolicy {
  bool enabled = true;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(30);
  double multiplier = 2.0;
  // Full jitter: a uniform delay in [0, ceiling]; off: exactly the ceiling.
  bool jitter = true;
  // Failed attempts in a row before giving up; 0 for no limit.
  int max_attempts = 0;
};

// The ceiling before reconnect attempt `attempt` (1 for the first):
// min(max_backoff, initial_backoff * multiplier^(attempt-1)).
absl::Duration ReconnectCeiling(const ReconnectPolicy& policy, int attempt);
// The delay before attempt `attempt`: the ceiling, or with jitter a uniform
// draw in [0, ceiling].
absl::Duration ReconnectDelay(const ReconnectPolicy& policy, int attempt, absl::BitGenRef random);
// False once `failed_attempts` have used up max_attempts.
bool ShouldReconnect(const ReconnectPolicy& policy, int failed_attempts);

}  // namespace kei
