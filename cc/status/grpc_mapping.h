// The gRPC mapping table: kit status <-> grpc::Status. Both use the canonical
// codes, so this is an identity on codes that keeps the message.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kei {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace kei
