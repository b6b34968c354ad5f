// The proto bridge: every unary method registered with the Dispatcher becomes
// an MCP tool (unless its `(kei.v1.mcp).disabled` annotation opts out), named
// and described from its annotation or its descriptor and comments, with
// input and output JSON Schemas generated from its messages. tools/call
// transcodes the arguments with protobuf's JSON mapping and calls the method
// through the same Dispatcher (auth, limits, deadlines) as every protocol.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/mcp/mcp_server.h"
#include "google/protobuf/descriptor.h"

namespace kei::mcp {

// The tool name for a method: the annotation's, else "<Service>_<Method>".
// Clients (McpTransport) derive names with the descriptor overload, so both
// sides always agree.
std::string ToolNameForMethod(const google::protobuf::MethodDescriptor* method);
std::string ToolNameForMethod(const MethodHandler& method);
// The name a method's tool gets when ToolNameForMethod's is taken (two
// services with the same simple name): the full method name with '.' and '/'
// as '_'.
std::string FallbackToolName(const google::protobuf::MethodDescriptor* method);

// Builds the tool for one unary method.
absl::StatusOr<Tool> ToolForMethod(const MethodHandler& method, const Dispatcher& dispatcher);

// Adds a tool for every eligible method; a name that is taken already (two
// services with the same simple name) falls back to the full method name
// with '.' and '/' turned into '_'.
absl::Status AddProtoTools(McpServer& server, const Dispatcher& dispatcher);

}  // namespace kei::mcp
