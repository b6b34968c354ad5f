// The de-duplication window alone (bus/dedup_window.h), as the broker drives
// it under its publish lock: a lookup and an insert per canonical UUID id,
// 1.3 million ids against the default million-id bound. Prints the mean and
// the worst single lookup + insert: the worst is how long one publish can
// hold the lock while the table grows.
//
//   bazel run -c opt //tools/bench:dedup_bench
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bus/dedup_window.h"

int main() {
  constexpr size_t kIds = 1300000;
  kei::bus::DedupWindow window(absl::Minutes(2), 1000000);
  std::vector<std::string> ids(kIds);
  for (size_t i = 0; i < kIds; ++i) {
    ids[i] = absl::StrFormat("%08x-0000-4000-8000-%012x", static_cast<uint32_t>(i * 2654435761u), i);
  }
  const absl::Time now = absl::Now();
  double worst_us = 0, total_us = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < kIds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const kei::bus::DedupWindow::Key key(ids[i]);
    if (!window.Find(key, now)) window.Insert(key, i + 1, now);
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    total_us += us;
    if (us > worst_us) {
      worst_us = us;
      worst_at = i;
    }
  }
  std::printf("{\"ids\":%zu,\"mean_us\":%.3f,\"worst_us\":%.0f,\"worst_at\":%zu}\n", kIds,
              total_us / kIds, worst_us, worst_at);
  return 0;
}
