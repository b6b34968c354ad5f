#include "clients/mcp/mcp_transport.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "cc/mcp/jsonrpc.h"
#include "cc/mcp/proto_tools.h"
#include "cc/security/tls_config.h"
#include "cc/status/code_names.h"
#include "clients/mcp/kei_mcp_client.h"

namespace kei {
namespace {

using google::protobuf::Message;
using mcp::Json;

const JsonCodec& ProtoJson() {
  static const JsonCodec* codec = new JsonCodec();
  return *codec;
}

absl::Time DeadlineFor(const CallOptions& options, const ClientConfig& config) {
  absl::Time deadline = options.EffectiveDeadline();
  if (deadline == absl::InfiniteFuture() && config.default_timeout != absl::InfiniteDuration()) {
    deadline = absl::Now() + config.default_timeout;
  }
  return deadline;
}

void AddMetadata(const Metadata& metadata, Metadata* headers) {
  for (const auto& [key, value] : metadata) {
    std::string name = absl::AsciiStrToLower(key);
    // Binary metadata travels base64-encoded, as in gRPC and Connect.
    headers->emplace(name, absl::EndsWith(name, "-bin") ? absl::Base64Escape(value) : value);
  }
}

// The first text content of a CallToolResult, or "".
std::string FirstText(const Json& result) {
  auto content = result.find("content");
  if (content == result.end() || !content->is_array()) return "";
  for (const Json& item : *content) {
    if (!item.is_object() || item.value("type", "") != "text") continue;
    auto text = item.find("text");
    if (text != item.end() && text->is_string()) return text->get<std::string>();
  }
  return "";
}

// A result with isError: true. The kit's tools say "CODE: message"; any other
// text is the message of an UNKNOWN error.
absl::Status StatusFromToolError(const Json& result) {
  std::string text = FirstText(result);
  absl::string_view view = text;
  if (auto colon = view.find(':'); colon != absl::string_view::npos) {
    auto code = CodeFromName(absl::StripAsciiWhitespace(view.substr(0, colon)));
    if (code.has_value() && *code != absl::StatusCode::kOk) {
      return absl::Status(*code, absl::StripLeadingAsciiWhitespace(view.substr(colon + 1)));
    }
  }
  return absl::UnknownError(text.empty() ? "the tool failed without a message" : text);
}

// The response message from a successful CallToolResult.
absl::Status DecodeResult(const Json& result, Message* response) {
  if (!result.is_object()) {
    return absl::InternalError("the MCP server answered tools/call with a non-object result");
  }
  std::string json;
  if (auto structured = result.find("structuredContent");
      structured != result.end() && !structured->is_null()) {
    json = mcp::DumpJson(*structured);
  } else {
    auto content = result.find("content");
    bool has_text = false;
    if (content != result.end() && content->is_array()) {
      for (const Json& item : *content) {
        has_text = has_text || (item.is_object() && item.value("type", "") == "text");
      }
    }
    if (!has_text) {
      return absl::InternalError(
          "the tool result has neither structuredContent nor text content");
    }
    json = FirstText(result);
  }
  if (absl::Status s = ProtoJson().Unmarshal(json, response); !s.ok()) {
    return absl::InternalError(absl::StrCat("decoding the tool result as ",
                                            response->GetDescriptor()->full_name(), ": ",
                                            s.message()));
  }
  return absl::OkStatus();
}

bool IsUnknownTool(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWithIgnoreCase(status.message(), "unknown tool");
}

}  // namespace

absl::StatusOr<std::shared_ptr<McpTransport>> McpTransport::Create(const Endpoint& endpoint,
                                                                   const ClientConfig& config,
                                                                   McpTransportOptions options) {
  if (endpoint.scheme != "mcp+http" && endpoint.scheme != "mcp+https") {
    return absl::InvalidArgumentError(absl::StrCat(
        "MCP transport needs mcp+http:// or mcp+https://, got ", endpoint.scheme, "://"));
  }
  ClientConfig effective = config;
  if (endpoint.tls) effective.tls.enabled = true;
  // Unreadable certificate files are a configuration error now, not a
  // connect failure a UnifiedClient would fall back from later.
  for (const std::string* file :
       {&effective.tls.ca_file, &effective.tls.cert_file, &effective.tls.key_file}) {
    if (file->empty()) continue;
    if (auto read = ReadFileToString(*file); !read.ok()) return read.status();
  }
  std::string path = endpoint.path.empty() || endpoint.path == "/" ? "/mcp" : endpoint.path;
  std::string authority = endpoint.authority();
  std::string url = absl::StrCat(endpoint.tls ? "https" : "http", "://", authority, path);
  std::string target = absl::StrCat(endpoint.scheme, "://", authority, path);
  return std::shared_ptr<McpTransport>(new McpTransport(
      std::move(url), std::move(target), std::move(effective), std::move(options)));
}

McpTransport::McpTransport(std::string url, std::string target, ClientConfig config,
                           McpTransportOptions options)
    : url_(std::move(url)),
      target_(std::move(target)),
      config_(std::move(config)),
      options_(std::move(options)) {}

McpTransport::~McpTransport() { Disconnect(); }

absl::StatusOr<std::shared_ptr<KEIMCPClient>> McpTransport::Open(const Metadata& call_metadata,
                                                                  absl::Time deadline) const {
  McpClientOptions options;
  options.client_name = "kei-mcp-transport";
  options.bearer_token = config_.bearer_token;
  options.api_key = config_.api_key;
  options.api_key_header = config_.api_key_header;
  AddMetadata(config_.metadata, &options.headers);
  AddMetadata(call_metadata, &options.headers);
  options.tls.verify = true;
  options.tls.ca_file = config_.tls.ca_file;
  options.tls.cert_file = config_.tls.cert_file;
  options.tls.key_file = config_.tls.key_file;
  options.tls.server_name_override = config_.tls.server_name_override;
  absl::Duration connect = options_.connect_timeout;
  if (deadline != absl::InfiniteFuture()) {
    connect = std::min(connect, std::max(deadline - absl::Now(), absl::Milliseconds(1)));
  }
  options.connect_timeout = connect;
  // Requests without a timeout of their own (tools/list); calls set theirs.
  options.timeout = connect;
  // Calls are answered on their own POST; nothing needs the GET stream.
  options.open_event_stream = false;
  auto client = KEIMCPClient::Connect(url_, options);
  if (!client.ok()) return client.status();
  return std::shared_ptr<KEIMCPClient>(*std::move(client));
}

absl::Status McpTransport::Connect() {
  return Session(absl::Now() + options_.connect_timeout).status();
}

absl::StatusOr<std::shared_ptr<KEIMCPClient>> McpTransport::Session(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (client_ != nullptr) return client_;
  }
  absl::MutexLock connect_lock(&connect_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (client_ != nullptr) return client_;  // another caller connected meanwhile
  }
  auto connected = Open({}, deadline);
  absl::MutexLock lock(&mu_);
  if (!connected.ok()) {
    last_failure_ = absl::Now();
    return connected.status();
  }
  client_ = *std::move(connected);
  // A new session may be a new server: list its tools again.
  tools_known_ = false;
  return client_;
}

void McpTransport::Forget(const std::shared_ptr<KEIMCPClient>& client) {
  std::shared_ptr<KEIMCPClient> dropped;  // released outside the lock
  absl::MutexLock lock(&mu_);
  if (client_ == client) dropped = std::move(client_);
}

void McpTransport::Disconnect() {
  std::shared_ptr<KEIMCPClient> dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped = std::move(client_);
  }
}

bool McpTransport::connected() const {
  absl::MutexLock lock(&mu_);
  return client_ != nullptr;
}

bool McpTransport::Available() const {
  absl::MutexLock lock(&mu_);
  return client_ != nullptr || absl::Now() - last_failure_ > options_.unavailable_after_failure;
}

void McpTransport::LearnTools(KEIMCPClient& client, absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (tools_known_) return;
  }
  std::set<std::string> names;
  // Bounded by the session's default request timeout (the connect timeout).
  if (deadline == absl::InfiniteFuture() || deadline > absl::Now()) {
    auto tools = client.list_tools();
    if (tools.ok()) {
      for (const Json& tool : *tools) {
        if (tool.is_object() && tool.contains("name") && tool["name"].is_string()) {
          names.insert(tool["name"].get<std::string>());
        }
      }
    }
    // A server that cannot list its tools gets the plain names; a call to a
    // tool it lacks says "Unknown tool" and the list is tried again.
  }
  absl::MutexLock lock(&mu_);
  tools_ = std::move(names);
  tools_known_ = true;
}

std::string McpTransport::ToolName(const MethodInfo& method) {
  if (auto client = Session(absl::Now() + options_.connect_timeout); client.ok()) {
    LearnTools(**client, absl::InfiniteFuture());
  }
  std::string name = mcp::ToolNameForMethod(method.descriptor);
  std::string fallback = mcp::FallbackToolName(method.descriptor);
  absl::MutexLock lock(&mu_);
  return tools_.count(fallback) > 0 ? fallback : name;
}

AttemptOutcome McpTransport::Unary(const MethodInfo& method, const Message& request,
                                   Message* response, const CallOptions& options) {
  AttemptOutcome outcome;
  outcome.reached_server = false;
  if (method.kind != StreamKind::kUnary) {
    outcome.status = absl::UnimplementedError(absl::StrCat(
        method.full_name, " is ", StreamKindName(method.kind),
        "; MCP tools are unary: use grpc://, http:// or ws:// for streams"));
    return outcome;
  }
  if (method.descriptor == nullptr) {
    outcome.status = absl::InvalidArgumentError(
        absl::StrCat(method.full_name, " has no descriptor: cannot name its MCP tool"));
    return outcome;
  }
  absl::Time deadline = DeadlineFor(options, config_);
  if (deadline <= absl::Now()) {
    outcome.status = absl::DeadlineExceededError("deadline exceeded before the call was sent");
    return outcome;
  }
  std::string arguments_text;
  if (absl::Status s = ProtoJson().Marshal(request, &arguments_text); !s.ok()) {
    outcome.status = s;
    return outcome;
  }
  auto arguments = mcp::ParseJsonText(arguments_text);
  if (!arguments.ok() || !arguments->is_object()) {
    outcome.status = absl::InternalError(
        absl::StrCat("the request of ", method.full_name, " is not a JSON object"));
    return outcome;
  }

  // The shared session, or a one-off one carrying this call's metadata.
  std::shared_ptr<KEIMCPClient> client;
  bool shared = options.metadata.empty();
  if (shared) {
    auto session = Session(deadline);
    if (session.ok()) client = *std::move(session);
    else outcome.status = session.status();
  } else {
    auto session = Open(options.metadata, deadline);
    if (session.ok()) client = *std::move(session);
    else outcome.status = session.status();
  }
  if (client == nullptr) {
    // The call itself was never sent.
    if (outcome.status.code() != absl::StatusCode::kUnavailable &&
        outcome.status.code() != absl::StatusCode::kDeadlineExceeded) {
      // Credentials or certificates will not change on a retry.
      outcome.pushback = absl::Milliseconds(-1);
    }
    return outcome;
  }

  LearnTools(*client, deadline);
  std::string tool = mcp::ToolNameForMethod(method.descriptor);
  {
    std::string fallback = mcp::FallbackToolName(method.descriptor);
    absl::MutexLock lock(&mu_);
    if (tools_.count(fallback) > 0) tool = std::move(fallback);
  }

  CallToolOptions call;
  if (deadline == absl::InfiniteFuture()) {
    call.timeout = absl::InfiniteDuration();
  } else {
    call.timeout = deadline - absl::Now();
    if (call.timeout <= absl::ZeroDuration()) {
      outcome.status = absl::DeadlineExceededError("deadline exceeded before the call was sent");
      return outcome;
    }
  }
  outcome.reached_server = true;
  absl::StatusOr<Json> result = client->call_tool(tool, *std::move(arguments), call);
  if (!result.ok()) {
    outcome.status = result.status();
    if (IsUnknownTool(outcome.status)) {
      // The server has no such tool: nothing ran there.
      outcome.reached_server = false;
      outcome.status = absl::UnimplementedError(absl::StrCat(
          method.full_name, " is not available as an MCP tool on ", target_, " (",
          outcome.status.message(), ")"));
      absl::MutexLock lock(&mu_);
      tools_known_ = false;  // the list may be stale
    } else if (outcome.status.code() == absl::StatusCode::kUnavailable && shared) {
      // The next call opens a new session (and reports a server that is
      // still down as never reached).
      Forget(client);
    }
    return outcome;
  }
  if (result->is_object() && result->value("isError", false)) {
    outcome.status = StatusFromToolError(*result);
    return outcome;
  }
  outcome.status = DecodeResult(*result, response);
  return outcome;
}

absl::StatusOr<std::unique_ptr<ClientStream>> McpTransport::OpenStream(
    const MethodInfo& method, const CallOptions& options) {
  return absl::UnimplementedError(absl::StrCat(
      "cannot stream ", method.full_name,
      " over MCP: MCP tools are unary; use grpc://, http:// or ws:// for streams"));
}

}  // namespace kei
