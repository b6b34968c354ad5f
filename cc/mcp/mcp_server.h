// The MCP engine: JSON-RPC methods of the Model Context Protocol over a
// registry of tools, resources, resource templates and prompts, with the
// lifecycle (initialize with version negotiation, ping), logging, progress,
// cancellation, completion, pagination and change notifications. Transports
// (Streamable HTTP, stdio) feed it messages and carry what it sends; the
// engine itself never touches a socket or a file descriptor.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/context.h"
#include "cc/mcp/jsonrpc.h"
#include "cc/mcp/mcp_session.h"
#include "cc/mcp/mcp_types.h"

namespace kei::mcp {

struct McpServerOptions {
  std::string name = "keid";
  std::string title = "KEI Kit";
  std::string version = "0.1.0";
  // Shown to the model by clients that support it.
  std::string instructions;
  // Entries per page of tools/list, resources/list, prompts/list, ...
  size_t page_size = 100;
  // Sessions idle longer than this are forgotten (HTTP answers 404).
  absl::Duration session_idle_timeout = absl::Minutes(30);
  // Sessions beyond this evict the one idle longest.
  size_t max_sessions = 4096;
};

// What a handler can do while it serves one request.
class RequestContext {
 public:
  RequestContext(Session& session, Json request_id, Json progress_token, kei::Context& call,
                 MessageSink related, std::function<void()> close_stream)
      : session_(session),
        request_id_(std::move(request_id)),
        progress_token_(std::move(progress_token)),
        call_(call),
        related_(std::move(related)),
        close_stream_(std::move(close_stream)) {}

  Session& session() { return session_; }
  // Deadline, cancellation, request metadata and identity of the call.
  kei::Context& call() { return call_; }
  const Json& request_id() const { return request_id_; }
  bool cancelled() const { return call_.cancelled(); }
  bool has_progress_token() const { return !progress_token_.is_null(); }

  // notifications/progress, when the request asked for progress.
  void Progress(double progress, std::optional<double> total = std::nullopt,
                std::string message = "");
  // notifications/message, when the session's level lets `level` through.
  void Log(LogLevel level, Json data, std::string logger = "");
  // Sends a request to the client (sampling/createMessage, elicitation/create,
  // roots/list) on this request's stream and waits for the answer.
  absl::StatusOr<Json> RequestClient(std::string method, Json params,
                                     absl::Duration timeout = absl::Seconds(60));
  // Sends any message related to this request.
  bool Send(const Json& message) { return related_ && related_(message); }
  // Ends this request's SSE stream now while the handler goes on; the client
  // resumes with GET and Last-Event-ID to get the rest (SEP-1699 polling).
  // A no-op when the answer is not streamed.
  void CloseStream() {
    if (close_stream_) close_stream_();
  }

 private:
  Session& session_;
  Json request_id_;
  Json progress_token_;
  kei::Context& call_;
  MessageSink related_;
  std::function<void()> close_stream_;
};

class McpServer {
 public:
  explicit McpServer(McpServerOptions options = {});
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  const McpServerOptions& options() const { return options_; }

  // Registration; may happen while serving (sessions are told the list changed).
  // A name or URI that is taken is ALREADY_EXISTS; a bad tool name INVALID_ARGUMENT.
  absl::Status AddTool(Tool tool);
  bool RemoveTool(const std::string& name);
  absl::Status AddResource(Resource resource);
  absl::Status AddResourceTemplate(ResourceTemplate resource_template);
  absl::Status AddPrompt(Prompt prompt);

  // Tells every session subscribed to `uri` that it changed.
  void NotifyResourceUpdated(const std::string& uri);
  // A log message to every session whose level lets it through.
  void Log(LogLevel level, Json data, std::string logger = "");

  // Calls a tool outside any MCP session (the legacy REST tool API): a
  // non-OK status for an unknown tool or unreadable arguments.
  absl::StatusOr<ToolResult> CallTool(const std::string& name, const Json& arguments,
                                      kei::Context& call);
  // The initialize result's server description (name, version, capabilities).
  Json ServerInfo() const;

  std::vector<Tool> tools() const;
  // The registered tool (shared, immutable); nullptr if unknown.
  std::shared_ptr<const Tool> FindTool(const std::string& name) const;

  // Sessions. The transport creates one per client (HTTP: at initialize).
  std::shared_ptr<Session> CreateSession();
  // nullptr when unknown or expired.
  std::shared_ptr<Session> FindSession(const std::string& id);
  bool CloseSession(const std::string& id);
  size_t session_count() const;

  // Handles one incoming message of `session`. For a request, the response
  // is returned; notifications and responses return nullopt. `related`
  // carries what the request sends before its response (progress, logs,
  // requests to the client); `call` is the kit call context the transport
  // built (metadata, identity, cancellation), used for every handler and
  // every bridged method call.
  std::optional<Json> Handle(Session& session, const JsonRpcMessage& message,
                             kei::Context& call, const MessageSink& related,
                             std::function<void()> close_stream = nullptr);

  // Whether answering `message` benefits from a stream (the request asks for
  // progress, or the tool it calls sends notifications).
  bool PrefersStream(const JsonRpcMessage& message) const;

 private:
  absl::StatusOr<Json> Dispatch(Session& session, const JsonRpcMessage& message,
                                RequestContext& request);
  absl::StatusOr<Json> Initialize(Session& session, const Json& params);
  absl::StatusOr<Json> ListTools(const Json& params) const;
  absl::StatusOr<Json> CallTool(const Json& params, RequestContext& request);
  absl::StatusOr<Json> ListResources(const Json& params) const;
  absl::StatusOr<Json> ListResourceTemplates(const Json& params) const;
  absl::StatusOr<Json> ReadResource(const Json& params, RequestContext& request);
  absl::StatusOr<Json> ListPrompts(const Json& params) const;
  absl::StatusOr<Json> GetPrompt(const Json& params, RequestContext& request);
  absl::StatusOr<Json> Complete(const Json& params) const;
  void Broadcast(const Json& notification);
  void EvictIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sessions_mu_);

  McpServerOptions options_;
  mutable absl::Mutex mu_;
  // Shared and immutable, so a call holds its tool without copying schemas.
  std::vector<std::shared_ptr<const Tool>> tools_ ABSL_GUARDED_BY(mu_);
  std::vector<Resource> resources_ ABSL_GUARDED_BY(mu_);
  std::vector<ResourceTemplate> templates_ ABSL_GUARDED_BY(mu_);
  std::vector<Prompt> prompts_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex sessions_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions_
      ABSL_GUARDED_BY(sessions_mu_);
};

// Tool names MCP accepts: 1-128 of [A-Za-z0-9_.-].
bool IsValidToolName(absl::string_view name);

}  // namespace kei::mcp
