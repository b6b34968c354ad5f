// JSON-RPC 2.0, the message layer under MCP: classifying an incoming message
// (request, notification, response or error) with the protocol's own error
// codes for anything malformed, and building the messages MCP sends. Canonical
// codes cross into JSON-RPC through the kit's one mapping table
// (cc/status/jsonrpc_mapping.h).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace kei::mcp {

using Json = nlohmann::ordered_json;

struct JsonRpcMessage {
  enum class Kind { kRequest, kNotification, kResult, kError };
  Kind kind = Kind::kRequest;
  // String or integer for requests and responses; null for notifications.
  Json id;
  std::string method;
  // An object (or null when absent).
  Json params;
  Json result;
  // {code, message, data?} for kError.
  Json error;

  bool is_request() const { return kind == Kind::kRequest; }
  bool is_notification() const { return kind == Kind::kNotification; }
  bool is_response() const { return kind == Kind::kResult || kind == Kind::kError; }
};

// An error the peer should see as a JSON-RPC error object: the code (reserved
// or server-defined) and a message, with the id when one could be read.
struct JsonRpcFailure {
  int code = 0;
  std::string message;
  Json id;  // null when the id is unknown
};

// Validates one message. A message that is not a JSON-RPC 2.0 request,
// notification or response fails with kJsonRpcInvalidRequest.
absl::StatusOr<JsonRpcMessage> ParseJsonRpc(const Json& message, JsonRpcFailure* failure);
// The same, moving params/result/error out of `message`.
absl::StatusOr<JsonRpcMessage> ParseJsonRpc(Json&& message, JsonRpcFailure* failure);

Json JsonRpcResult(const Json& id, Json result);
Json JsonRpcError(const Json& id, int code, absl::string_view message, Json data = nullptr);
// The error for a failed call: the code from the kit's mapping table and the
// status message; `data.code` carries the canonical code's name.
Json JsonRpcErrorFromStatus(const Json& id, const absl::Status& status);
Json JsonRpcNotification(absl::string_view method, Json params = nullptr);
Json JsonRpcRequest(const Json& id, absl::string_view method, Json params = nullptr);

// The canonical status a JSON-RPC error object stands for.
absl::Status StatusFromJsonRpcError(const Json& error);

// Parses text into JSON without exceptions; nullopt-like failure as status
// (INVALID_ARGUMENT with the parser's position).
absl::StatusOr<Json> ParseJsonText(absl::string_view text);
// Serializes without exceptions (invalid UTF-8 is replaced).
std::string DumpJson(const Json& value);

}  // namespace kei::mcp
