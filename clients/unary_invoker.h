// Runs a unary call over a Transport with the shared retry and deadline
// policy: attempts share one overall deadline, backoff is exponential with full
// jitter, and only safe failures are retried (see cc/retry/retry_policy.h).
#pragma once

#include "absl/status/status.h"
#include "cc/registry/method_info.h"
#include "cc/retry/retry_policy.h"
#include "clients/call_options.h"
#include "clients/transport.h"

namespace kei {

absl::Status InvokeUnary(Transport& transport, const MethodInfo& method,
                         const google::protobuf::Message& request,
                         google::protobuf::Message* response, const CallOptions& options,
                         const RetryPolicy& default_policy);

}  // namespace kei
