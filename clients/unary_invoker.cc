#include "clients/unary_invoker.h"

#include "absl/random/random.h"
#include "absl/time/clock.h"

namespace kei {

absl::Status InvokeUnary(Transport& transport, const MethodInfo& method,
                         const google::protobuf::Message& request,
                         google::protobuf::Message* response, const CallOptions& options,
                         const RetryPolicy& default_policy) {
  thread_local absl::BitGen random;
  const RetryPolicy& policy = options.retry ? *options.retry : default_policy;
  bool idempotent = options.idempotent.value_or(method.idempotent);
  // One deadline for all attempts: each attempt gets what is left of it.
  CallOptions attempt_options = options;
  attempt_options.deadline = options.EffectiveDeadline();
  attempt_options.timeout = absl::InfiniteDuration();
  for (int attempt = 1;; ++attempt) {
    AttemptOutcome outcome = transport.Unary(method, request, response, attempt_options);
    if (options.stats != nullptr) {
      options.stats->attempts = attempt;
      options.stats->attempt_statuses.push_back(outcome.status);
      if (transport.protocol() != Protocol::kUnified) {
        options.stats->protocol = transport.protocol();
      }
    }
    if (outcome.status.ok()) return outcome.status;
    auto delay = NextRetryDelay(policy, attempt, outcome, idempotent,
                                attempt_options.deadline, random);
    if (!delay) return outcome.status;
    absl::SleepFor(*delay);
  }
}

}  // namespace kei
