#include "cc/dispatch/metrics_interceptor.h"

#include <algorithm>

#include "cc/status/code_names.h"

namespace kei {

void MetricsInterceptor::OnCallEnd(const MethodInfo& method, Context& context,
                                   const absl::Status& status) {
  absl::Duration latency = absl::Now() - context.start_time();
  {
    absl::MutexLock lock(&mu_);
    MethodMetrics& m = metrics_[method.full_name];
    ++m.calls;
    ++m.by_code[std::string(CodeName(status.code()))];
    m.total_latency += latency;
    m.max_latency = std::max(m.max_latency, latency);
  }
  if (observer_) observer_(method, context, status, latency);
}

std::map<std::string, MethodMetrics> MetricsInterceptor::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return metrics_;
}

}  // namespace kei
