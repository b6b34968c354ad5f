#include "cc/status/jsonrpc_mapping.h"

namespace kei {

int JsonRpcCodeFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument: return kJsonRpcInvalidParams;
    case absl::StatusCode::kUnimplemented: return kJsonRpcMethodNotFound;
    case absl::StatusCode::kInternal: return kJsonRpcInternalError;
    default: return -32000 - static_cast<int>(code);
  }
}

absl::StatusCode CodeFromJsonRpcCode(int jsonrpc_code) {
  switch (jsonrpc_code) {
    case kJsonRpcParseError:
    case kJsonRpcInvalidRequest:
    case kJsonRpcInvalidParams: return absl::StatusCode::kInvalidArgument;
    case kJsonRpcMethodNotFound: return absl::StatusCode::kUnimplemented;
    case kJsonRpcInternalError: return absl::StatusCode::kInternal;
    default: break;
  }
  int canonical = -32000 - jsonrpc_code;
  if (canonical >= 1 && canonical <= 16) return static_cast<absl::StatusCode>(canonical);
  return absl::StatusCode::kUnknown;
}

}  // namespace kei
