// JSON in, JSON out, for any method a DescriptorRegistry knows: what keictl and
// the generic Call of every typed client use.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/transport.h"

namespace kei {

// Unary call with proto3 JSON request and response, retried per `policy`.
absl::StatusOr<std::string> CallUnaryJson(Transport& transport,
                                          const DescriptorRegistry& registry,
                                          absl::string_view method, absl::string_view json,
                                          const CallOptions& options,
                                          const RetryPolicy& policy);

}  // namespace kei
