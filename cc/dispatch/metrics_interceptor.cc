#include "cc/dispatch/metrics_interceptor.h"

#include <algorithm>

#include "cc/status/code_names.h"

namespace kei {

MetricsInterceptor::Counters& MetricsInterceptor::For(const MethodInfo& method) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = metrics_.find(method.full_name);
    if (it != metrics_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto& slot = metrics_[method.full_name];
  if (!slot) slot = std::make_unique<Counters>();
  return *slot;
}

void MetricsInterceptor::OnCallEnd(const MethodInfo& method, Context& context,
                                   const absl::Status& status) {
  absl::Duration latency = absl::Now() - context.start_time();
  int64_t ns = absl::ToInt64Nanoseconds(latency);
  Counters& c = For(method);
  c.calls.fetch_add(1, std::memory_order_relaxed);
  size_t code = static_cast<size_t>(status.code());
  c.by_code[code < c.by_code.size() ? code : 2].fetch_add(1, std::memory_order_relaxed);
  c.total_ns.fetch_add(ns, std::memory_order_relaxed);
  int64_t max = c.max_ns.load(std::memory_order_relaxed);
  while (ns > max && !c.max_ns.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
  }
  if (observer_) observer_(method, context, status, latency);
}

std::map<std::string, MethodMetrics> MetricsInterceptor::Snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  std::map<std::string, MethodMetrics> out;
  for (const auto& [name, c] : metrics_) {
    MethodMetrics& m = out[name];
    m.calls = c->calls.load(std::memory_order_relaxed);
    for (size_t code = 0; code < c->by_code.size(); ++code) {
      uint64_t n = c->by_code[code].load(std::memory_order_relaxed);
      if (n > 0) m.by_code[std::string(CodeName(static_cast<absl::StatusCode>(code)))] = n;
    }
    m.total_latency = absl::Nanoseconds(c->total_ns.load(std::memory_order_relaxed));
    m.max_latency = absl::Nanoseconds(c->max_ns.load(std::memory_order_relaxed));
  }
  return out;
}

}  // namespace kei
