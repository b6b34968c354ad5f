// Server-wide call limits enforced in the shared chain: a bound on calls in
// flight (RESOURCE_EXHAUSTED with a gRPC retry pushback, so well-behaved clients
// back off and retry), and the server's deadline policy (a default for calls
// that carry none, and a ceiling for those that do).
#pragma once

#include <atomic>

#include "absl/time/time.h"
#include "cc/dispatch/interceptor.h"

namespace kei {

struct CallLimits {
  // 0 means unbounded.
  int max_concurrent_calls = 0;
  // Pushback sent with RESOURCE_EXHAUSTED.
  absl::Duration overload_pushback = absl::Milliseconds(50);
  // Applied to calls without a deadline; InfiniteDuration means none.
  absl::Duration default_deadline = absl::InfiniteDuration();
  // Deadlines further out are cut to this; InfiniteDuration means no ceiling.
  absl::Duration max_deadline = absl::InfiniteDuration();
};

// The gRPC metadata key for server pushback (gRPC retry design A6).
inline constexpr char kRetryPushbackKey[] = "grpc-retry-pushback-ms";

class LimitsInterceptor final : public Interceptor {
 public:
  explicit LimitsInterceptor(CallLimits limits) : limits_(limits) {}

  absl::Status OnCallStart(const MethodInfo& method, Context& context) override;
  void OnCallEnd(const MethodInfo& method, Context& context,
                 const absl::Status& status) override;

  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  CallLimits limits_;
  std::atomic<int> in_flight_{0};
};

}  // namespace kei
