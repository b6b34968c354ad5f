// The JSON-RPC 2.0 mapping table used by MCP. The protocol's own errors keep
// their reserved codes (-32700..-32600); every other canonical code gets a code
// in the server-defined range, -32000 minus the canonical code number, so a
// client can always recover the canonical code.
#pragma once

#include "absl/status/status.h"

namespace kei {

inline constexpr int kJsonRpcParseError = -32700;
inline constexpr int kJsonRpcInvalidRequest = -32600;
inline constexpr int kJsonRpcMethodNotFound = -32601;
inline constexpr int kJsonRpcInvalidParams = -32602;
inline constexpr int kJsonRpcInternalError = -32603;

// JSON-RPC error code for a failed call with this canonical code.
int JsonRpcCodeFromCode(absl::StatusCode code);

// Canonical code for a JSON-RPC error code (inverse of the table above; the
// reserved protocol codes map to INVALID_ARGUMENT, UNIMPLEMENTED or INTERNAL).
absl::StatusCode CodeFromJsonRpcCode(int jsonrpc_code);

}  // namespace kei
