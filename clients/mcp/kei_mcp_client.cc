// KEIMCPClient: target parsing, the MCP methods on top of McpClientSession,
// and the legacy REST mode (see kei_mcp_client.h).
#include "clients/mcp/kei_mcp_client.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/mcp/legacy_rest_client.h"
#include "clients/mcp/stdio_client_transport.h"
#include "clients/mcp/streamable_http_client_transport.h"

namespace kei {
namespace {

using mcp::Json;

constexpr int kMaxPages = 10000;

std::string StringField(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

http::HttpClientOptions KEIMCPClient::HttpOptions(const McpClientOptions& options) {
  http::HttpClientOptions http;
  http.bearer_token = options.bearer_token;
  http.default_headers = options.headers;
  if (!options.api_key.empty()) {
    http.default_headers.emplace(absl::AsciiStrToLower(options.api_key_header), options.api_key);
  }
  http.user_agent = absl::StrCat(options.client_name, "/", options.client_version);
  http.tls = options.tls;
  http.timeout = options.connect_timeout;
  return http;
}

mcp::McpSessionOptions KEIMCPClient::SessionOptions(const McpClientOptions& options) {
  mcp::McpSessionOptions session;
  session.client_name = options.client_name;
  session.client_version = options.client_version;
  session.request_timeout = options.timeout;
  session.initialize_timeout = options.connect_timeout;
  session.sampling = options.sampling_handler;
  session.elicitation = options.elicitation_handler;
  session.roots = options.roots_handler;
  session.apply_elicitation_defaults = options.apply_elicitation_defaults;
  return session;
}

absl::StatusOr<std::unique_ptr<KEIMCPClient>> KEIMCPClient::Connect(absl::string_view target,
                                                                    const McpClientOptions& options) {
  if (absl::StartsWith(target, "legacy+http://") || absl::StartsWith(target, "legacy+https://")) {
    std::unique_ptr<KEIMCPClient> client(new KEIMCPClient(Mode::kLegacyRest, options));
    auto legacy = mcp::LegacyRestClient::Create(std::string(target.substr(7)), HttpOptions(options));
    if (!legacy.ok()) return legacy.status();
    client->legacy_ = *std::move(legacy);
    auto health = client->legacy_->Health(options.connect_timeout);
    if (!health.ok()) return health.status();
    return client;
  }
  if (absl::StartsWith(target, "http://") || absl::StartsWith(target, "https://")) {
    mcp::StreamableHttpClientOptions http;
    http.http = HttpOptions(options);
    http.open_event_stream = options.open_event_stream;
    if (options.oauth.enabled) {
      http.authorizer = std::make_shared<mcp::McpOAuthClient>(
          std::string(target), options.oauth, http.http, options.client_name);
    }
    auto transport = mcp::StreamableHttpClientTransport::Create(std::string(target), http);
    if (!transport.ok()) return transport.status();
    std::unique_ptr<KEIMCPClient> client(new KEIMCPClient(Mode::kStreamableHttp, options));
    client->http_transport_ = transport->get();
    if (absl::Status s = client->StartSession(*std::move(transport)); !s.ok()) return s;
    return client;
  }
  std::vector<std::string> argv =
      absl::StrSplit(target, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  return Connect(std::move(argv), options);
}

absl::StatusOr<std::unique_ptr<KEIMCPClient>> KEIMCPClient::Connect(
    std::vector<std::string> command, const McpClientOptions& options) {
  if (command.empty()) return absl::InvalidArgumentError("empty MCP server command");
  mcp::ChildProcessOptions child;
  child.env = options.env;
  child.working_dir = options.working_dir;
  child.inherit_stderr = options.pass_stderr;
  if (!options.bearer_token.empty()) {
    bool set = false;
    for (const auto& [k, v] : child.env) set = set || k == "KEI_TOKEN";
    if (!set) child.env.emplace_back("KEI_TOKEN", options.bearer_token);
  }
  std::unique_ptr<KEIMCPClient> client(new KEIMCPClient(Mode::kStdio, options));
  auto transport = std::make_unique<mcp::StdioClientTransport>(std::move(command), std::move(child));
  if (absl::Status s = client->StartSession(std::move(transport)); !s.ok()) return s;
  return client;
}

absl::Status KEIMCPClient::StartSession(std::unique_ptr<mcp::McpClientTransport> transport) {
  session_ = std::make_unique<mcp::McpClientSession>(std::move(transport), SessionOptions(options_));
  session_->OnNotification("notifications/tools/list_changed", [this](const Json&) {
    absl::MutexLock lock(&tools_mu_);
    tools_cached_ = false;
    tools_.clear();
  });
  absl::Status connected = session_->Connect();
  if (!connected.ok()) session_->Close();
  return connected;
}

KEIMCPClient::KEIMCPClient(Mode mode, McpClientOptions options)
    : mode_(mode), options_(std::move(options)) {}

KEIMCPClient::~KEIMCPClient() { close(); }

void KEIMCPClient::close() {
  if (session_ != nullptr) session_->Close();
}

absl::Status KEIMCPClient::RequireSession(absl::string_view what) const {
  if (session_ != nullptr) return absl::OkStatus();
  return absl::UnimplementedError(
      absl::StrCat(what, " is not part of the KEI REST tool API (legacy mode)"));
}

absl::StatusOr<std::vector<Json>> KEIMCPClient::ListAll(absl::string_view method,
                                                        absl::string_view key) {
  if (absl::Status s = RequireSession(method); !s.ok()) return s;
  std::vector<Json> items;
  std::set<std::string> cursors;
  Json params = Json::object();
  for (int page = 0; page < kMaxPages; ++page) {
    auto result = session_->Request(method, params);
    if (!result.ok()) return result.status();
    if (result->is_object()) {
      auto list = result->find(key);
      if (list != result->end() && list->is_array()) {
        for (auto& item : *list) items.push_back(item);
      }
    }
    std::string cursor = StringField(*result, "nextCursor");
    if (cursor.empty()) return items;
    if (!cursors.insert(cursor).second) {
      return absl::InternalError(
          absl::StrCat("the MCP server repeated the cursor '", cursor, "' in ", method));
    }
    params["cursor"] = cursor;
  }
  return absl::ResourceExhaustedError(absl::StrCat(method, " returned more than ", kMaxPages,
                                                   " pages"));
}

absl::StatusOr<std::vector<Json>> KEIMCPClient::list_tools() {
  if (legacy_ != nullptr) return legacy_->ListTools(options_.timeout);
  auto tools = ListAll("tools/list", "tools");
  if (tools.ok()) {
    absl::MutexLock lock(&tools_mu_);
    tools_ = *tools;
    tools_cached_ = true;
  }
  return tools;
}

absl::StatusOr<Json> KEIMCPClient::get_tool_schema(absl::string_view name) {
  if (legacy_ != nullptr) return legacy_->GetToolSchema(name, options_.timeout);
  std::vector<Json> tools;
  {
    absl::MutexLock lock(&tools_mu_);
    if (tools_cached_) tools = tools_;
  }
  bool fetched = false;
  if (tools.empty()) {
    auto listed = list_tools();
    if (!listed.ok()) return listed.status();
    tools = *std::move(listed);
    fetched = true;
  }
  for (int pass = 0; pass < 2; ++pass) {
    for (const Json& tool : tools) {
      if (StringField(tool, "name") != name) continue;
      Json out = {{"name", tool["name"]},
                  {"inputSchema", tool.contains("inputSchema") ? tool["inputSchema"] : Json::object()}};
      if (tool.contains("outputSchema")) out["outputSchema"] = tool["outputSchema"];
      return out;
    }
    // A cached list may be older than the tool.
    if (fetched) break;
    auto listed = list_tools();
    if (!listed.ok()) return listed.status();
    tools = *std::move(listed);
    fetched = true;
  }
  return absl::NotFoundError(absl::StrCat("unknown tool ", name));
}

absl::StatusOr<Json> KEIMCPClient::call_tool(absl::string_view name, Json arguments,
                                             const CallToolOptions& options) {
  if (arguments.is_null()) arguments = Json::object();
  if (legacy_ != nullptr) {
    return legacy_->CallTool(name, arguments,
                             options.timeout > absl::ZeroDuration() ? options.timeout : options_.timeout);
  }
  mcp::McpRequestOptions request;
  request.timeout = options.timeout;
  request.on_progress = options.on_progress;
  return session_->Request("tools/call", {{"name", name}, {"arguments", std::move(arguments)}},
                           request);
}

absl::StatusOr<std::vector<Json>> KEIMCPClient::list_resources() {
  return ListAll("resources/list", "resources");
}

absl::StatusOr<std::vector<Json>> KEIMCPClient::list_resource_templates() {
  return ListAll("resources/templates/list", "resourceTemplates");
}

absl::StatusOr<Json> KEIMCPClient::read_resource(absl::string_view uri) {
  return request("resources/read", {{"uri", uri}});
}

absl::Status KEIMCPClient::subscribe_resource(absl::string_view uri) {
  return request("resources/subscribe", {{"uri", uri}}).status();
}

absl::Status KEIMCPClient::unsubscribe_resource(absl::string_view uri) {
  return request("resources/unsubscribe", {{"uri", uri}}).status();
}

absl::StatusOr<std::vector<Json>> KEIMCPClient::list_prompts() {
  return ListAll("prompts/list", "prompts");
}

absl::StatusOr<Json> KEIMCPClient::get_prompt(absl::string_view name, Json arguments) {
  Json params = {{"name", name}};
  if (!arguments.is_null() && !arguments.empty()) params["arguments"] = std::move(arguments);
  return request("prompts/get", std::move(params));
}

absl::StatusOr<Json> KEIMCPClient::complete(const Json& ref, absl::string_view argument,
                                            absl::string_view value,
                                            const Json& context_arguments) {
  Json params = {{"ref", ref}, {"argument", {{"name", argument}, {"value", value}}}};
  if (context_arguments.is_object()) params["context"] = {{"arguments", context_arguments}};
  auto result = request("completion/complete", std::move(params));
  if (!result.ok()) return result.status();
  if (!result->is_object() || !result->contains("completion")) {
    return absl::InternalError("completion/complete returned no completion");
  }
  return (*result)["completion"];
}

absl::Status KEIMCPClient::set_logging_level(absl::string_view level) {
  return request("logging/setLevel", {{"level", level}}).status();
}

absl::StatusOr<mcp::McpServerInfo> KEIMCPClient::get_server_info() {
  if (session_ != nullptr) return session_->server_info();
  auto info = legacy_->Info(options_.timeout);
  if (!info.ok()) return info.status();
  mcp::McpServerInfo out;
  if (info->is_object()) {
    out.server_info = info->value("serverInfo", Json::object());
    out.capabilities = info->value("capabilities", Json::object());
  }
  out.protocol_version = StringField(*info, "protocolVersion");
  out.instructions = StringField(*info, "instructions");
  return out;
}

absl::Status KEIMCPClient::ping() {
  if (legacy_ != nullptr) return legacy_->Health(options_.timeout).status();
  return session_->Request("ping", Json::object()).status();
}

absl::StatusOr<Json> KEIMCPClient::request(absl::string_view method, Json params,
                                           const mcp::McpRequestOptions& options) {
  if (absl::Status s = RequireSession(method); !s.ok()) return s;
  return session_->Request(method, std::move(params), options);
}

absl::Status KEIMCPClient::notify(absl::string_view method, Json params) {
  if (absl::Status s = RequireSession(method); !s.ok()) return s;
  return session_->Notify(method, std::move(params));
}

absl::Status KEIMCPClient::notify_roots_list_changed() {
  return notify("notifications/roots/list_changed");
}

void KEIMCPClient::on_notification(absl::string_view method, mcp::NotificationHandler handler) {
  if (session_ != nullptr) session_->OnNotification(method, std::move(handler));
}

void KEIMCPClient::on_tools_list_changed(std::function<void()> handler) {
  on_notification("notifications/tools/list_changed",
                  [handler = std::move(handler)](const Json&) { handler(); });
}

void KEIMCPClient::on_progress(std::function<void(const Json&)> handler) {
  on_notification("notifications/progress", std::move(handler));
}

void KEIMCPClient::on_logging_message(std::function<void(const Json&)> handler) {
  on_notification("notifications/message", std::move(handler));
}

void KEIMCPClient::on_resource_updated(std::function<void(const std::string&)> handler) {
  on_notification("notifications/resources/updated",
                  [handler = std::move(handler)](const Json& params) {
                    handler(StringField(params, "uri"));
                  });
}

}  // namespace kei
