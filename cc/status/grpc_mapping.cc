#include "cc/status/grpc_mapping.h"

#include <string>

#include "cc/status/code_names.h"

namespace kei {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::Status::code() already maps non-canonical codes to UNKNOWN; an
  // error never goes on the wire without a message.
  absl::StatusCode code = status.code();
  std::string message(status.message());
  if (message.empty()) message = std::string(CodeName(code));
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::move(message));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > 16) code = static_cast<int>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

}  // namespace kei
