#include "cc/dispatch/context.h"

#include <algorithm>

namespace kei {

bool Context::SleepFor(absl::Duration d) const {
  absl::Time target = absl::Now() + d;
  if (cancellation_.WaitUntil(std::min(target, deadline_))) return false;
  return target <= deadline_;
}

}  // namespace kei
