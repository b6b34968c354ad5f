#include "cc/mcp/mcp_server.h"

#include <algorithm>
#include <optional>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cc/status/jsonrpc_mapping.h"

namespace kei::mcp {
namespace {

// MCP's own code for resources/read of an unknown URI.
constexpr int kResourceNotFound = -32002;

absl::Status BadParams(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

// Cursors are opaque to clients: base64 of "o:<offset>".
std::string MakeCursor(size_t offset) { return absl::WebSafeBase64Escape(absl::StrCat("o:", offset)); }

absl::StatusOr<size_t> PageStart(const Json& params) {
  if (!params.is_object()) return 0;
  auto it = params.find("cursor");
  if (it == params.end() || it->is_null()) return 0;
  std::string decoded;
  size_t offset = 0;
  absl::string_view rest;
  if (!it->is_string() || !absl::WebSafeBase64Unescape(it->get<std::string>(), &decoded) ||
      !absl::ConsumePrefix(&(rest = decoded), "o:") || !absl::SimpleAtoi(rest, &offset)) {
    return BadParams("invalid cursor");
  }
  return offset;
}

template <class T, class Render>
absl::StatusOr<Json> Page(const std::vector<T>& items, const Json& params, size_t page_size,
                          const char* key, Render render) {
  auto start = PageStart(params);
  if (!start.ok()) return start.status();
  if (*start > items.size()) return BadParams("invalid cursor");
  Json list = Json::array();
  size_t end = std::min(items.size(), *start + page_size);
  for (size_t i = *start; i < end; ++i) list.push_back(render(items[i]));
  Json out{{key, std::move(list)}};
  if (end < items.size()) out["nextCursor"] = MakeCursor(end);
  return out;
}

void PutIfSet(Json& out, const char* key, const std::string& value) {
  if (!value.empty()) out[key] = value;
}

Json ToolJson(const Tool& tool) {
  Json out{{"name", tool.name}};
  PutIfSet(out, "title", tool.title);
  PutIfSet(out, "description", tool.description);
  out["inputSchema"] = tool.input_schema;
  if (!tool.output_schema.is_null()) out["outputSchema"] = tool.output_schema;
  if (!tool.annotations.is_null()) out["annotations"] = tool.annotations;
  return out;
}

Json ResourceJson(const Resource& resource) {
  Json out{{"uri", resource.uri}, {"name", resource.name}};
  PutIfSet(out, "title", resource.title);
  PutIfSet(out, "description", resource.description);
  PutIfSet(out, "mimeType", resource.mime_type);
  if (resource.size) out["size"] = *resource.size;
  return out;
}

Json TemplateJson(const ResourceTemplate& t) {
  Json out{{"uriTemplate", t.uri_template}, {"name", t.name}};
  PutIfSet(out, "title", t.title);
  PutIfSet(out, "description", t.description);
  PutIfSet(out, "mimeType", t.mime_type);
  return out;
}

Json PromptJson(const Prompt& prompt) {
  Json out{{"name", prompt.name}};
  PutIfSet(out, "title", prompt.title);
  PutIfSet(out, "description", prompt.description);
  if (!prompt.arguments.empty()) {
    Json arguments = Json::array();
    for (const auto& argument : prompt.arguments) {
      Json a{{"name", argument.name}, {"required", argument.required}};
      PutIfSet(a, "title", argument.title);
      PutIfSet(a, "description", argument.description);
      arguments.push_back(std::move(a));
    }
    out["arguments"] = std::move(arguments);
  }
  return out;
}

absl::StatusOr<std::string> StringParam(const Json& params, const char* key) {
  if (!params.is_object()) return BadParams(absl::StrCat("missing \"", key, "\""));
  auto it = params.find(key);
  if (it == params.end() || !it->is_string()) {
    return BadParams(absl::StrCat("\"", key, "\" must be a string"));
  }
  return it->get<std::string>();
}

std::string NewSessionId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::random_device device;
  uint64_t a = (static_cast<uint64_t>(device()) << 32) ^ device() ^ rng();
  uint64_t b = (static_cast<uint64_t>(device()) << 32) ^ device() ^ rng();
  return absl::StrCat(absl::Hex(a, absl::kZeroPad16), absl::Hex(b, absl::kZeroPad16));
}

}  // namespace

bool IsValidToolName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

void RequestContext::Progress(double progress, std::optional<double> total, std::string message) {
  if (progress_token_.is_null()) return;
  Json params{{"progressToken", progress_token_}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = std::move(message);
  Send(JsonRpcNotification("notifications/progress", std::move(params)));
}

void RequestContext::Log(LogLevel level, Json data, std::string logger) {
  if (level < session_.log_level()) return;
  Json params{{"level", std::string(LogLevelName(level))}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  Send(JsonRpcNotification("notifications/message", std::move(params)));
}

absl::StatusOr<Json> RequestContext::RequestClient(std::string method, Json params,
                                                   absl::Duration timeout) {
  auto [id, answer] = session_.BeginClientRequest();
  if (!Send(JsonRpcRequest(id, method, std::move(params)))) {
    session_.AbandonClientRequest(id);
    return absl::UnavailableError("no stream to the client is open");
  }
  absl::Time deadline = std::min(absl::Now() + timeout, call_.deadline());
  while (answer.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (call_.cancelled()) {
      session_.AbandonClientRequest(id);
      return absl::CancelledError(absl::StrCat(method, ": the request was cancelled"));
    }
    if (absl::Now() >= deadline) {
      session_.AbandonClientRequest(id);
      return absl::DeadlineExceededError(absl::StrCat(method, ": the client did not answer"));
    }
  }
  const Json& response = answer.get();
  if (response.contains("error")) return StatusFromJsonRpcError(response["error"]);
  return response.value("result", Json::object());
}

McpServer::McpServer(McpServerOptions options) : options_(std::move(options)) {}

absl::Status McpServer::AddTool(Tool tool) {
  if (!IsValidToolName(tool.name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid MCP tool name \"", tool.name,
                                                   "\": use 1-128 of [A-Za-z0-9_.-]"));
  }
  if (!tool.handler) return absl::InvalidArgumentError("a tool needs a handler");
  {
    absl::MutexLock lock(&mu_);
    for (const auto& t : tools_) {
      if (t->name == tool.name) {
        return absl::AlreadyExistsError(absl::StrCat("tool ", tool.name, " already exists"));
      }
    }
    tools_.push_back(std::make_shared<const Tool>(std::move(tool)));
  }
  Broadcast(JsonRpcNotification("notifications/tools/list_changed"));
  return absl::OkStatus();
}

bool McpServer::RemoveTool(const std::string& name) {
  {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(tools_.begin(), tools_.end(),
                           [&](const auto& t) { return t->name == name; });
    if (it == tools_.end()) return false;
    tools_.erase(it);
  }
  Broadcast(JsonRpcNotification("notifications/tools/list_changed"));
  return true;
}

absl::Status McpServer::AddResource(Resource resource) {
  if (resource.uri.empty() || !resource.read) {
    return absl::InvalidArgumentError("a resource needs a URI and a reader");
  }
  if (resource.name.empty()) resource.name = resource.uri;
  {
    absl::MutexLock lock(&mu_);
    for (const Resource& r : resources_) {
      if (r.uri == resource.uri) {
        return absl::AlreadyExistsError(absl::StrCat("resource ", resource.uri, " already exists"));
      }
    }
    resources_.push_back(std::move(resource));
  }
  Broadcast(JsonRpcNotification("notifications/resources/list_changed"));
  return absl::OkStatus();
}

absl::Status McpServer::AddResourceTemplate(ResourceTemplate resource_template) {
  if (resource_template.uri_template.empty() || !resource_template.read) {
    return absl::InvalidArgumentError("a resource template needs a URI template and a reader");
  }
  if (resource_template.name.empty()) resource_template.name = resource_template.uri_template;
  absl::MutexLock lock(&mu_);
  templates_.push_back(std::move(resource_template));
  return absl::OkStatus();
}

absl::Status McpServer::AddPrompt(Prompt prompt) {
  if (prompt.name.empty() || !prompt.get) {
    return absl::InvalidArgumentError("a prompt needs a name and a handler");
  }
  {
    absl::MutexLock lock(&mu_);
    for (const Prompt& p : prompts_) {
      if (p.name == prompt.name) {
        return absl::AlreadyExistsError(absl::StrCat("prompt ", prompt.name, " already exists"));
      }
    }
    prompts_.push_back(std::move(prompt));
  }
  Broadcast(JsonRpcNotification("notifications/prompts/list_changed"));
  return absl::OkStatus();
}

absl::StatusOr<ToolResult> McpServer::CallTool(const std::string& name, const Json& arguments,
                                               kei::Context& call) {
  std::shared_ptr<const Tool> tool = FindTool(name);
  if (!tool) return absl::NotFoundError(absl::StrCat("Unknown tool: ", name));
  if (!arguments.is_object()) return BadParams("the arguments must be a JSON object");
  Session session("rest");
  session.SetInitialize(kLatestProtocolVersion, Json::object(), Json::object());
  RequestContext request(session, nullptr, nullptr, call, nullptr, nullptr);
  try {
    return tool->handler(arguments, request);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("tool ", name, " failed: ", e.what()));
  }
}

Json McpServer::ServerInfo() const {
  Session scratch("info");
  auto result = const_cast<McpServer*>(this)->Initialize(
      scratch, Json{{"protocolVersion", kLatestProtocolVersion}});
  return result.ok() ? *result : Json::object();
}

std::vector<Tool> McpServer::tools() const {
  absl::MutexLock lock(&mu_);
  std::vector<Tool> out;
  out.reserve(tools_.size());
  for (const auto& t : tools_) out.push_back(*t);
  return out;
}

std::shared_ptr<const Tool> McpServer::FindTool(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  for (const auto& t : tools_) {
    if (t->name == name) return t;
  }
  return nullptr;
}

void McpServer::NotifyResourceUpdated(const std::string& uri) {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    absl::MutexLock lock(&sessions_mu_);
    for (auto& [id, session] : sessions_) sessions.push_back(session);
  }
  std::optional<Json> notification;  // built only when someone is subscribed
  for (auto& session : sessions) {
    if (!session->IsSubscribed(uri)) continue;
    if (!notification) {
      notification = JsonRpcNotification("notifications/resources/updated", Json{{"uri", uri}});
    }
    session->SendOutbound(*notification);
  }
}

void McpServer::Log(LogLevel level, Json data, std::string logger) {
  Json params{{"level", std::string(LogLevelName(level))}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  Json notification = JsonRpcNotification("notifications/message", std::move(params));
  std::vector<std::shared_ptr<Session>> sessions;
  {
    absl::MutexLock lock(&sessions_mu_);
    for (auto& [id, session] : sessions_) sessions.push_back(session);
  }
  for (auto& session : sessions) {
    if (session->initialized() && level >= session->log_level()) {
      session->SendOutbound(notification);
    }
  }
}

void McpServer::Broadcast(const Json& notification) {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    absl::MutexLock lock(&sessions_mu_);
    for (auto& [id, session] : sessions_) sessions.push_back(session);
  }
  for (auto& session : sessions) {
    if (session->initialized()) session->SendOutbound(notification);
  }
}

std::shared_ptr<Session> McpServer::CreateSession() {
  auto session = std::make_shared<Session>(NewSessionId());
  absl::MutexLock lock(&sessions_mu_);
  EvictIdleLocked();
  sessions_[session->id()] = session;
  return session;
}

void McpServer::EvictIdleLocked() {
  absl::Time now = absl::Now();
  std::vector<std::string> expired;
  for (auto& [id, session] : sessions_) {
    if (now - session->last_used() > options_.session_idle_timeout) expired.push_back(id);
  }
  while (sessions_.size() - expired.size() >= options_.max_sessions && !sessions_.empty()) {
    // Full: the session idle longest makes room.
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second->last_used() < b.second->last_used();
    });
    expired.push_back(oldest->first);
    oldest->second->Touch();  // not picked twice
    if (expired.size() > sessions_.size()) break;
  }
  for (const auto& id : expired) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    it->second->CancelAll();
    sessions_.erase(it);
  }
}

std::shared_ptr<Session> McpServer::FindSession(const std::string& id) {
  absl::MutexLock lock(&sessions_mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  if (absl::Now() - it->second->last_used() > options_.session_idle_timeout) {
    it->second->CancelAll();
    sessions_.erase(it);
    return nullptr;
  }
  it->second->Touch();
  return it->second;
}

bool McpServer::CloseSession(const std::string& id) {
  std::shared_ptr<Session> session;
  {
    absl::MutexLock lock(&sessions_mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return false;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  session->CancelAll();
  return true;
}

size_t McpServer::session_count() const {
  absl::MutexLock lock(&sessions_mu_);
  return sessions_.size();
}

bool McpServer::PrefersStream(const JsonRpcMessage& message) const {
  if (!message.is_request()) return false;
  const Json& params = message.params;
  if (params.is_object()) {
    if (auto meta = params.find("_meta"); meta != params.end() && meta->is_object() &&
                                          meta->contains("progressToken")) {
      return true;
    }
  }
  if (message.method != "tools/call" || !params.is_object()) return false;
  auto name = params.find("name");
  if (name == params.end() || !name->is_string()) return false;
  absl::MutexLock lock(&mu_);
  for (const auto& t : tools_) {
    if (t->name == name->get_ref<const std::string&>()) return t->streams_notifications;
  }
  return false;
}

std::optional<Json> McpServer::Handle(Session& session, const JsonRpcMessage& message,
                                      kei::Context& call, const MessageSink& related,
                                      std::function<void()> close_stream) {
  session.Touch();
  if (message.is_response()) {
    Json response = message.kind == JsonRpcMessage::Kind::kResult
                        ? Json{{"result", message.result}}
                        : Json{{"error", message.error}};
    session.CompleteClientRequest(message.id, std::move(response));
    return std::nullopt;
  }
  if (message.is_notification()) {
    if (message.method == "notifications/initialized") {
      session.MarkInitialized();
    } else if (message.method == "notifications/cancelled" && message.params.is_object()) {
      if (auto id = message.params.find("requestId"); id != message.params.end()) {
        session.CancelRequest(*id);
      }
    }
    // Others (roots/list_changed, progress from the client) need no action.
    return std::nullopt;
  }
  if (message.method != "initialize" && message.method != "ping" && !session.initialize_seen()) {
    return JsonRpcError(message.id, kJsonRpcInvalidRequest,
                        "the session is not initialized: send initialize first");
  }
  Json progress_token;
  if (message.params.is_object()) {
    if (auto meta = message.params.find("_meta"); meta != message.params.end() &&
                                                  meta->is_object()) {
      progress_token = meta->value("progressToken", Json());
    }
  }
  RequestContext request(session, message.id, std::move(progress_token), call, related,
                         std::move(close_stream));
  session.BeginRequest(message.id, call.cancellation());
  absl::StatusOr<Json> result;
  try {
    result = Dispatch(session, message, request);
  } catch (const std::exception& e) {
    result = absl::InternalError(absl::StrCat(message.method, " failed: ", e.what()));
  }
  session.EndRequest(message.id);
  if (!result.ok()) {
    if (message.method == "resources/read" && result.status().code() == absl::StatusCode::kNotFound) {
      return JsonRpcError(message.id, kResourceNotFound, result.status().message(),
                          Json{{"uri", message.params.value("uri", "")}});
    }
    return JsonRpcErrorFromStatus(message.id, result.status());
  }
  return JsonRpcResult(message.id, *std::move(result));
}

absl::StatusOr<Json> McpServer::Dispatch(Session& session, const JsonRpcMessage& message,
                                         RequestContext& request) {
  const std::string& method = message.method;
  const Json& params = message.params;
  if (method == "initialize") return Initialize(session, params);
  if (method == "ping") return Json::object();
  if (method == "tools/list") return ListTools(params);
  if (method == "tools/call") return CallTool(params, request);
  if (method == "resources/list") return ListResources(params);
  if (method == "resources/templates/list") return ListResourceTemplates(params);
  if (method == "resources/read") return ReadResource(params, request);
  if (method == "resources/subscribe" || method == "resources/unsubscribe") {
    auto uri = StringParam(params, "uri");
    if (!uri.ok()) return uri.status();
    if (method == "resources/subscribe") {
      if (!session.Subscribe(*uri)) {
        return absl::ResourceExhaustedError("too many resource subscriptions");
      }
    } else {
      session.Unsubscribe(*uri);
    }
    return Json::object();
  }
  if (method == "prompts/list") return ListPrompts(params);
  if (method == "prompts/get") return GetPrompt(params, request);
  if (method == "completion/complete") return Complete(params);
  if (method == "logging/setLevel") {
    auto name = StringParam(params, "level");
    if (!name.ok()) return name.status();
    auto level = LogLevelFromName(*name);
    if (!level) return BadParams(absl::StrCat("unknown log level \"", *name, "\""));
    session.set_log_level(*level);
    return Json::object();
  }
  return absl::UnimplementedError(absl::StrCat("method not found: ", method));
}

absl::StatusOr<Json> McpServer::Initialize(Session& session, const Json& params) {
  auto requested = StringParam(params, "protocolVersion");
  if (!requested.ok()) return requested.status();
  // Answer with the client's version when we speak it, else our latest; the
  // client decides whether it can go on.
  std::string version =
      IsSupportedProtocolVersion(*requested) ? *requested : std::string(kLatestProtocolVersion);
  session.SetInitialize(version, params.value("clientInfo", Json::object()),
                        params.value("capabilities", Json::object()));
  Json server_info{{"name", options_.name}, {"version", options_.version}};
  if (!options_.title.empty()) server_info["title"] = options_.title;
  Json result{
      {"protocolVersion", version},
      {"capabilities",
       {{"tools", {{"listChanged", true}}},
        {"resources", {{"subscribe", true}, {"listChanged", true}}},
        {"prompts", {{"listChanged", true}}},
        {"logging", Json::object()},
        {"completions", Json::object()}}},
      {"serverInfo", std::move(server_info)},
  };
  if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
  return result;
}

absl::StatusOr<Json> McpServer::ListTools(const Json& params) const {
  absl::MutexLock lock(&mu_);
  return Page(tools_, params, options_.page_size, "tools",
              [](const std::shared_ptr<const Tool>& t) { return ToolJson(*t); });
}

absl::StatusOr<Json> McpServer::CallTool(const Json& params, RequestContext& request) {
  auto name = StringParam(params, "name");
  if (!name.ok()) return name.status();
  std::shared_ptr<const Tool> tool = FindTool(*name);
  if (!tool) return BadParams(absl::StrCat("Unknown tool: ", *name));
  static const Json* const kNoArguments = new Json(Json::object());
  const Json* arguments = kNoArguments;
  if (auto it = params.find("arguments"); it != params.end() && !it->is_null()) {
    if (!it->is_object()) return BadParams("\"arguments\" must be an object");
    arguments = &*it;
  }
  absl::StatusOr<ToolResult> result = tool->handler(*arguments, request);
  if (!result.ok()) return result.status();
  return std::move(*result).ToJson();
}

absl::StatusOr<Json> McpServer::ListResources(const Json& params) const {
  absl::MutexLock lock(&mu_);
  return Page(resources_, params, options_.page_size, "resources", ResourceJson);
}

absl::StatusOr<Json> McpServer::ListResourceTemplates(const Json& params) const {
  absl::MutexLock lock(&mu_);
  return Page(templates_, params, options_.page_size, "resourceTemplates", TemplateJson);
}

absl::StatusOr<Json> McpServer::ReadResource(const Json& params, RequestContext& request) {
  auto uri = StringParam(params, "uri");
  if (!uri.ok()) return uri.status();
  ResourceReader reader;
  std::map<std::string, std::string> variables;
  {
    absl::MutexLock lock(&mu_);
    for (const Resource& r : resources_) {
      if (r.uri == *uri) {
        reader = r.read;
        break;
      }
    }
    if (!reader) {
      for (const ResourceTemplate& t : templates_) {
        if (auto matched = MatchUriTemplate(t.uri_template, *uri)) {
          reader = t.read;
          variables = std::move(*matched);
          break;
        }
      }
    }
  }
  if (!reader) return absl::NotFoundError(absl::StrCat("Resource not found: ", *uri));
  auto contents = reader(*uri, variables, request);
  if (!contents.ok()) return contents.status();
  Json list = Json::array();
  for (const auto& c : *contents) list.push_back(c.ToJson());
  return Json{{"contents", std::move(list)}};
}

absl::StatusOr<Json> McpServer::ListPrompts(const Json& params) const {
  absl::MutexLock lock(&mu_);
  return Page(prompts_, params, options_.page_size, "prompts", PromptJson);
}

absl::StatusOr<Json> McpServer::GetPrompt(const Json& params, RequestContext& request) {
  auto name = StringParam(params, "name");
  if (!name.ok()) return name.status();
  std::optional<Prompt> prompt;
  {
    absl::MutexLock lock(&mu_);
    for (const Prompt& p : prompts_) {
      if (p.name == *name) prompt = p;
    }
  }
  if (!prompt) return BadParams(absl::StrCat("Unknown prompt: ", *name));
  std::map<std::string, std::string> arguments;
  if (auto it = params.find("arguments"); it != params.end() && !it->is_null()) {
    if (!it->is_object()) return BadParams("\"arguments\" must be an object");
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) {
        return BadParams(absl::StrCat("prompt argument \"", key, "\" must be a string"));
      }
      arguments[key] = value.get<std::string>();
    }
  }
  for (const PromptArgument& argument : prompt->arguments) {
    if (argument.required && !arguments.count(argument.name)) {
      return BadParams(absl::StrCat("missing required argument \"", argument.name, "\""));
    }
  }
  auto result = prompt->get(arguments, request);
  if (!result.ok()) return result.status();
  Json out{{"messages", result->messages}};
  PutIfSet(out, "description", result->description.empty() ? prompt->description
                                                           : result->description);
  return out;
}

absl::StatusOr<Json> McpServer::Complete(const Json& params) const {
  if (!params.is_object()) return BadParams("missing \"ref\"");
  Json ref = params.value("ref", Json());
  Json argument = params.value("argument", Json());
  if (!ref.is_object() || !argument.is_object() || !argument.contains("name") ||
      !argument["name"].is_string()) {
    return BadParams("completion/complete needs \"ref\" and \"argument\" {name, value}");
  }
  std::string type = ref.value("type", "");
  std::string argument_name = argument["name"].get<std::string>();
  std::string value = argument.value("value", "");
  std::map<std::string, std::string> context;
  if (auto c = params.find("context"); c != params.end() && c->is_object()) {
    if (auto args = c->find("arguments"); args != c->end() && args->is_object()) {
      for (const auto& [k, v] : args->items()) {
        if (v.is_string()) context[k] = v.get<std::string>();
      }
    }
  }
  Completer completer;
  {
    absl::MutexLock lock(&mu_);
    if (type == "ref/prompt") {
      std::string name = ref.value("name", "");
      auto it = std::find_if(prompts_.begin(), prompts_.end(),
                             [&](const Prompt& p) { return p.name == name; });
      if (it == prompts_.end()) return BadParams(absl::StrCat("Unknown prompt: ", name));
      completer = it->complete;
    } else if (type == "ref/resource") {
      std::string uri = ref.value("uri", "");
      auto it = std::find_if(templates_.begin(), templates_.end(),
                             [&](const ResourceTemplate& t) { return t.uri_template == uri; });
      if (it == templates_.end()) {
        return BadParams(absl::StrCat("Unknown resource template: ", uri));
      }
      completer = it->complete;
    } else {
      return BadParams(absl::StrCat("unknown reference type \"", type, "\""));
    }
  }
  std::vector<std::string> values;
  if (completer) values = completer(argument_name, value, context);
  size_t total = values.size();
  if (values.size() > 100) values.resize(100);
  return Json{{"completion", {{"values", values}, {"total", total}, {"hasMore", total > 100}}}};
}

}  // namespace kei::mcp
