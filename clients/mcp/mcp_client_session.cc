// The client side of one MCP session (see mcp_client_session.h).
#include "clients/mcp/mcp_client_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/status/jsonrpc_mapping.h"

namespace kei::mcp {
namespace {

std::string StringField(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool SupportedVersion(absl::string_view version) {
  for (const char* v : kClientProtocolVersions) {
    if (version == v) return true;
  }
  return false;
}

// SEP-1034: fields an accepted form left out take the schema's defaults.
void ApplyElicitationDefaults(const Json& params, Json& result) {
  if (!result.is_object() || StringField(result, "action") != "accept") return;
  const Json* properties = nullptr;
  if (params.is_object()) {
    auto schema = params.find("requestedSchema");
    if (schema != params.end() && schema->is_object()) {
      auto it = schema->find("properties");
      if (it != schema->end() && it->is_object()) properties = &*it;
    }
  }
  if (properties == nullptr) return;
  if (!result.contains("content") || !result["content"].is_object()) result["content"] = Json::object();
  Json& content = result["content"];
  for (auto it = properties->begin(); it != properties->end(); ++it) {
    if (!it.value().is_object() || content.contains(it.key())) continue;
    auto fallback = it.value().find("default");
    if (fallback != it.value().end()) content[it.key()] = *fallback;
  }
}

}  // namespace

McpClientSession::McpClientSession(std::unique_ptr<McpClientTransport> transport,
                                   McpSessionOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

McpClientSession::~McpClientSession() {
  Close();
  {
    absl::MutexLock lock(&mu_);
    stop_dispatcher_ = true;
  }
  if (dispatcher_.joinable()) {
    if (dispatcher_.get_id() == std::this_thread::get_id()) {
      dispatcher_.detach();
    } else {
      dispatcher_.join();
    }
  }
}

absl::Status McpClientSession::Connect() {
  absl::Status started = transport_->Start([this](Json m) { HandleMessage(std::move(m)); },
                                           [this](absl::Status why) { HandleClosed(why); });
  if (!started.ok()) return started;
  absl::MutexLock init(&init_mu_);
  return Initialize();
}

Json McpClientSession::Capabilities() const {
  Json capabilities = Json::object();
  if (options_.roots) capabilities["roots"] = {{"listChanged", true}};
  if (options_.sampling) capabilities["sampling"] = Json::object();
  if (options_.elicitation) capabilities["elicitation"] = Json::object();
  return capabilities;
}

absl::Status McpClientSession::Initialize() {
  int epoch;
  {
    absl::MutexLock lock(&mu_);
    epoch = epoch_;
  }
  if (epoch > 0) transport_->ResetSession();
  Json params = {{"protocolVersion", kClientProtocolVersions[0]},
                 {"capabilities", Capabilities()},
                 {"clientInfo", {{"name", options_.client_name}, {"version", options_.client_version}}}};
  McpRequestOptions request;
  request.timeout = options_.initialize_timeout;
  int ignored;
  auto result = RequestOnce("initialize", std::move(params), request, &ignored);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("MCP initialize failed: ", result.status().message()));
  }
  if (!result->is_object()) {
    return absl::InternalError("MCP initialize failed: the result is not an object");
  }
  std::string version = StringField(*result, "protocolVersion");
  if (!SupportedVersion(version)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the MCP server answered initialize with protocol version '", version,
        "'; this client speaks ", absl::StrJoin(kClientProtocolVersions, ", ")));
  }
  McpServerInfo info;
  info.protocol_version = version;
  info.server_info = result->value("serverInfo", Json::object());
  info.capabilities = result->value("capabilities", Json::object());
  info.instructions = StringField(*result, "instructions");
  std::set<std::string> resubscribe;
  {
    absl::MutexLock lock(&mu_);
    info_ = std::move(info);
    ++epoch_;
    if (epoch_ > 1) resubscribe = subscriptions_;
  }
  transport_->Initialized(version);
  if (absl::Status s = Notify("notifications/initialized"); !s.ok()) return s;
  transport_->OpenServerChannel();
  // A new session knows nothing of the old one's subscriptions.
  for (const auto& uri : resubscribe) {
    (void)RequestOnce("resources/subscribe", {{"uri", uri}}, {}, &ignored);
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> McpClientSession::Request(absl::string_view method, Json params,
                                               const McpRequestOptions& options) {
  int epoch = 0;
  Json copy = params;
  const bool subscription = method == "resources/subscribe" || method == "resources/unsubscribe";
  std::string uri = subscription ? StringField(params, "uri") : "";
  auto result = RequestOnce(method, std::move(params), options, &epoch);
  if (!result.ok() && IsSessionExpired(result.status())) {
    {
      absl::MutexLock init(&init_mu_);
      int now;
      {
        absl::MutexLock lock(&mu_);
        now = epoch_;
      }
      // Another caller may have initialized again already.
      if (now == epoch) {
        if (absl::Status s = Initialize(); !s.ok()) return s;
      }
    }
    result = RequestOnce(method, std::move(copy), options, &epoch);
  }
  if (result.ok() && subscription) {
    absl::MutexLock lock(&mu_);
    if (method == "resources/subscribe") {
      subscriptions_.insert(uri);
    } else {
      subscriptions_.erase(uri);
    }
  }
  return result;
}

absl::StatusOr<Json> McpClientSession::RequestOnce(absl::string_view method, Json params,
                                                   const McpRequestOptions& options, int* epoch) {
  auto pending = std::make_shared<Pending>();
  pending->on_progress = options.on_progress;
  int64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return closed_reason_.ok() ? absl::CancelledError("the MCP client is closed") : closed_reason_;
    }
    id = next_id_++;
    *epoch = epoch_;
    pending_[id] = pending;
  }
  if (options.on_progress) {
    if (!params.is_object()) params = Json::object();
    params["_meta"]["progressToken"] = id;
  }
  absl::Duration timeout =
      options.timeout > absl::ZeroDuration() ? options.timeout : options_.request_timeout;
  absl::Time deadline = absl::Now() + timeout;
  Json request = JsonRpcRequest(Json(id), method, std::move(params));
  absl::Status sent = transport_->Send(request, Json(id), deadline);

  bool done = false;
  bool closed = false;
  absl::Status closed_reason;
  {
    absl::MutexLock lock(&mu_);
    auto finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending->done || closed_; };
    if (sent.ok()) mu_.AwaitWithDeadline(absl::Condition(&finished), deadline);
    done = pending->done;
    closed = closed_;
    closed_reason = closed_reason_;
  }
  // Progress queued before the response runs before the caller sees it.
  if (done) AwaitDispatched();
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(id);
  }
  // A progress callback already running finishes before its owner returns.
  AwaitDispatched();
  if (!done) {
    if (!sent.ok()) {
      if (sent.code() == absl::StatusCode::kDeadlineExceeded) {
        (void)Notify("notifications/cancelled", {{"requestId", id}, {"reason", "timeout"}});
      }
      return sent;
    }
    if (closed) {
      return closed_reason.ok() ? absl::CancelledError("the MCP client is closed") : closed_reason;
    }
    (void)Notify("notifications/cancelled",
                 {{"requestId", id},
                  {"reason", absl::StrCat("timed out after ", absl::FormatDuration(timeout))}});
    return absl::DeadlineExceededError(absl::StrCat("MCP request ", method, " timed out after ",
                                                    absl::FormatDuration(timeout)));
  }
  const Json& response = pending->response;
  if (response.contains("error")) return StatusFromJsonRpcError(response["error"]);
  auto result = response.find("result");
  return result != response.end() ? *result : Json::object();
}

absl::Status McpClientSession::Notify(absl::string_view method, Json params) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::CancelledError("the MCP client is closed");
  }
  return transport_->Send(JsonRpcNotification(method, std::move(params)), Json(),
                          absl::Now() + absl::Seconds(10));
}

void McpClientSession::OnNotification(absl::string_view method, NotificationHandler handler) {
  absl::MutexLock lock(&handlers_mu_);
  handlers_[std::string(method)].push_back(std::move(handler));
}

McpServerInfo McpClientSession::server_info() const {
  absl::MutexLock lock(&mu_);
  return info_;
}

int McpClientSession::initializations() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

void McpClientSession::HandleMessage(Json message) {
  JsonRpcFailure failure;
  auto parsed = ParseJsonRpc(message, &failure);
  if (!parsed.ok()) return;  // nothing sensible to answer a malformed message with
  absl::MutexLock lock(&mu_);
  if (parsed->is_response()) {
    if (!parsed->id.is_number_integer()) return;
    auto it = pending_.find(parsed->id.get<int64_t>());
    if (it == pending_.end() || it->second->done) return;
    it->second->response = std::move(message);
    it->second->done = true;
    return;
  }
  queue_.push_back(*std::move(parsed));
  ++queued_;
}

void McpClientSession::HandleClosed(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  closed_reason_ = std::move(why);
}

void McpClientSession::DispatchLoop() {
  while (true) {
    JsonRpcMessage message;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stop_dispatcher_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      message = std::move(queue_.front());
      queue_.pop_front();
    }
    Dispatch(message);
    absl::MutexLock lock(&mu_);
    ++dispatched_;
  }
}

void McpClientSession::AwaitDispatched() {
  if (std::this_thread::get_id() == dispatcher_.get_id()) return;
  absl::MutexLock lock(&mu_);
  uint64_t target = queued_;
  auto caught_up = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return dispatched_ >= target || stop_dispatcher_;
  };
  mu_.Await(absl::Condition(&caught_up));
}

void McpClientSession::Dispatch(const JsonRpcMessage& message) {
  if (message.is_request()) {
    AnswerServerRequest(message);
    return;
  }
  if (message.method == "notifications/progress" && message.params.is_object()) {
    auto token = message.params.find("progressToken");
    std::function<void(const Json&)> on_progress;
    if (token != message.params.end() && token->is_number_integer()) {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(token->get<int64_t>());
      if (it != pending_.end()) on_progress = it->second->on_progress;
    }
    if (on_progress) on_progress(message.params);
  }
  std::vector<NotificationHandler> handlers;
  {
    absl::MutexLock lock(&handlers_mu_);
    auto it = handlers_.find(message.method);
    if (it != handlers_.end()) handlers = it->second;
  }
  for (const auto& handler : handlers) handler(message.params);
}

void McpClientSession::AnswerServerRequest(const JsonRpcMessage& message) {
  const ServerRequestHandler* handler = nullptr;
  if (message.method == "sampling/createMessage") {
    handler = options_.sampling ? &options_.sampling : nullptr;
  } else if (message.method == "elicitation/create") {
    handler = options_.elicitation ? &options_.elicitation : nullptr;
  } else if (message.method == "roots/list") {
    handler = options_.roots ? &options_.roots : nullptr;
  }
  Json response;
  if (message.method == "ping") {
    response = JsonRpcResult(message.id, Json::object());
  } else if (handler == nullptr) {
    response = JsonRpcError(message.id, kJsonRpcMethodNotFound,
                            absl::StrCat("the client does not support ", message.method));
  } else {
    auto result = (*handler)(message.params);
    if (!result.ok()) {
      response = JsonRpcErrorFromStatus(message.id, result.status());
    } else {
      Json value = *std::move(result);
      if (message.method == "elicitation/create" && options_.apply_elicitation_defaults) {
        ApplyElicitationDefaults(message.params, value);
      }
      response = JsonRpcResult(message.id, std::move(value));
    }
  }
  (void)transport_->Send(response, Json(), absl::Now() + options_.request_timeout);
}

void McpClientSession::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ && closed_reason_.code() == absl::StatusCode::kCancelled) return;
    closed_ = true;
    closed_reason_ = absl::CancelledError("the MCP client is closed");
  }
  transport_->Close();
}

}  // namespace kei::mcp
