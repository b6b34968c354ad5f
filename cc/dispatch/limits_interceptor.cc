#include "cc/dispatch/limits_interceptor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kei {

absl::Status LimitsInterceptor::OnCallStart(const MethodInfo& method, Context& context) {
  absl::Time now = absl::Now();
  if (!context.has_deadline() && limits_.default_deadline != absl::InfiniteDuration()) {
    context.set_deadline(now + limits_.default_deadline);
  }
  if (limits_.max_deadline != absl::InfiniteDuration()) {
    context.set_deadline(std::min(context.deadline(), now + limits_.max_deadline));
  }
  int before = in_flight_.fetch_add(1, std::memory_order_relaxed);
  if (limits_.max_concurrent_calls > 0 && before >= limits_.max_concurrent_calls) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    context.AddResponseMetadata(
        kRetryPushbackKey,
        absl::StrCat(absl::ToInt64Milliseconds(limits_.overload_pushback)));
    return absl::ResourceExhaustedError(absl::StrCat(
        "server is at its limit of ", limits_.max_concurrent_calls,
        " concurrent calls; retry after ",
        absl::FormatDuration(limits_.overload_pushback)));
  }
  return absl::OkStatus();
}

void LimitsInterceptor::OnCallEnd(const MethodInfo&, Context&, const absl::Status&) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace kei
