// A client of the standard gRPC health service (grpc.health.v1.Health/Check).
// The service's messages are described here in code, because Debian's gRPC
// ships its own health implementation without protobuf descriptors.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clients/transport.h"

namespace kei {

// "SERVING", "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN"; `service` empty
// asks about the server as a whole. NOT_FOUND if the server does not know it.
absl::StatusOr<std::string> CheckHealth(Transport& transport, const std::string& service,
                                        const CallOptions& options = {});

}  // namespace kei
