// An interceptor sees every call, from every protocol, before and after its
// handler: auth, deadlines, limits and metrics are interceptors. The chain runs
// OnCallStart in order; a non-OK status stops the call with that status. Each
// interceptor whose OnCallStart ran gets OnCallEnd, in reverse order.
#pragma once

#include "absl/status/status.h"
#include "cc/dispatch/context.h"
#include "cc/registry/method_info.h"

namespace kei {

class Interceptor {
 public:
  virtual ~Interceptor() = default;
  virtual absl::Status OnCallStart(const MethodInfo& method, Context& context) {
    return absl::OkStatus();
  }
  virtual void OnCallEnd(const MethodInfo& method, Context& context,
                         const absl::Status& status) {}
};

}  // namespace kei
