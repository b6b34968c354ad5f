// What an MCP server offers, as plain C++ values: tools, resources, resource
// templates and prompts, each with the handler that serves it. The engine
// (mcp_server.h) turns these into the protocol's list/call/read/get answers;
// the proto bridge (proto_tools.h) builds tools from registered methods.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cc/mcp/jsonrpc.h"

namespace kei::mcp {

class RequestContext;

// Protocol revisions this engine speaks, newest first.
inline constexpr const char* kLatestProtocolVersion = "2025-11-25";
inline constexpr const char* kSupportedProtocolVersions[] = {"2025-11-25", "2025-06-18",
                                                             "2025-03-26"};
bool IsSupportedProtocolVersion(absl::string_view version);

// RFC 5424 severities, as MCP's logging uses them.
enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError, kCritical, kAlert, kEmergency };
absl::string_view LogLevelName(LogLevel level);
std::optional<LogLevel> LogLevelFromName(absl::string_view name);

// The result of a tool call. A tool that ran and failed answers with
// is_error set (the model sees the failure); protocol-level failures are a
// non-OK status from the handler instead.
struct ToolResult {
  Json content = Json::array();
  // An object matching the tool's output schema, or null.
  Json structured_content;
  bool is_error = false;

  static ToolResult Text(std::string text);
  // is_error with the canonical code's name and the message as text.
  static ToolResult Error(const absl::Status& status);
  Json ToJson() const&;
  // Moves the content out instead of copying it.
  Json ToJson() &&;
};

// A non-OK status is a JSON-RPC error (unknown arguments that cannot be
// read at all); everything the tool itself reports goes in the ToolResult.
using ToolHandler =
    std::function<absl::StatusOr<ToolResult>(const Json& arguments, RequestContext& request)>;

struct Tool {
  std::string name;  // [A-Za-z0-9_.-]{1,128}
  std::string title;
  std::string description;
  Json input_schema = Json{{"type", "object"}};
  Json output_schema;  // null: none
  Json annotations;    // null or {readOnlyHint, destructiveHint, ...}
  ToolHandler handler;
  // The handler sends progress or log notifications while it runs: answer on
  // an SSE stream when the client accepts one.
  bool streams_notifications = false;
};

struct ResourceContents {
  std::string uri;
  std::string mime_type;
  std::string text;
  // Raw bytes, sent base64-encoded as `blob`; used when `binary` is set.
  std::string blob;
  bool binary = false;
  Json ToJson() const;
};

using ResourceReader = std::function<absl::StatusOr<std::vector<ResourceContents>>(
    const std::string& uri, const std::map<std::string, std::string>& variables,
    RequestContext& request)>;

// Completion candidates for one argument, given its partial value and the
// other arguments already chosen.
using Completer = std::function<std::vector<std::string>(
    absl::string_view argument, absl::string_view value,
    const std::map<std::string, std::string>& context)>;

struct Resource {
  std::string uri;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  std::optional<int64_t> size;
  ResourceReader read;
};

// RFC 6570 template; {var} matches one path segment, {+var} anything.
struct ResourceTemplate {
  std::string uri_template;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  ResourceReader read;
  Completer complete;
};

struct PromptArgument {
  std::string name;
  std::string title;
  std::string description;
  bool required = false;
};

struct PromptResult {
  std::string description;
  // [{role: "user"|"assistant", content: {type: "text", text}}, ...]
  Json messages = Json::array();
};

using PromptHandler = std::function<absl::StatusOr<PromptResult>(
    const std::map<std::string, std::string>& arguments, RequestContext& request)>;

struct Prompt {
  std::string name;
  std::string title;
  std::string description;
  std::vector<PromptArgument> arguments;
  PromptHandler get;
  Completer complete;
};

// Matches `uri` against an RFC 6570 template (simple and reserved
// expansion); the variables on success.
std::optional<std::map<std::string, std::string>> MatchUriTemplate(absl::string_view uri_template,
                                                                   absl::string_view uri);

}  // namespace kei::mcp
