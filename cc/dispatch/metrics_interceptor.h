// The metrics hook of the shared chain: per-method call counts by code and
// latency totals, plus an optional callback for exporting to a real system.
// Counting is lock-free once a method has been seen, since every call of every
// protocol passes through here.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/interceptor.h"

namespace kei {

struct MethodMetrics {
  uint64_t calls = 0;
  std::map<std::string, uint64_t> by_code;  // "OK", "INVALID_ARGUMENT", ...
  absl::Duration total_latency;
  absl::Duration max_latency;
};

class MetricsInterceptor final : public Interceptor {
 public:
  using Observer = std::function<void(const MethodInfo&, const Context&,
                                      const absl::Status&, absl::Duration latency)>;
  MetricsInterceptor() = default;
  explicit MetricsInterceptor(Observer observer) : observer_(std::move(observer)) {}

  void OnCallEnd(const MethodInfo& method, Context& context,
                 const absl::Status& status) override;

  // Copy of the counters, keyed by canonical method name.
  std::map<std::string, MethodMetrics> Snapshot() const;

 private:
  struct Counters {
    std::atomic<uint64_t> calls{0};
    std::array<std::atomic<uint64_t>, 17> by_code{};
    std::atomic<int64_t> total_ns{0};
    std::atomic<int64_t> max_ns{0};
  };
  Counters& For(const MethodInfo& method);

  Observer observer_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Counters>> metrics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei
