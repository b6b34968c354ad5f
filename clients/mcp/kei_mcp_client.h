// KEIMCPClient: an MCP (Model Context Protocol) client for any MCP server,
// over stdio (the server is a command this client starts) or Streamable HTTP,
// plus the original KEI REST tool API for older KEI deployments, behind one
// API: tools (listing every page, schemas, calls with progress and
// timeouts), resources (read, templates, subscriptions), prompts,
// completion, logging level, ping, server info, notification handlers and
// handlers for the server's own requests (sampling, elicitation, roots).
//
//   auto client = kei::KEIMCPClient::Connect("http://127.0.0.1:8080/mcp");
//   auto tools = (*client)->list_tools();
//   auto result = (*client)->call_tool("act", {{"action", "echo"}});
//
// Targets: http(s)://... (Streamable HTTP), legacy+http(s)://host:port (KEI
// REST tool API), anything else is a command line split on spaces (stdio);
// the vector overload takes the argv as is. Errors are absl::Status with the
// canonical code (JSON-RPC errors mapped by cc/mcp/jsonrpc.h); a tool that
// fails is a result with "isError": true, not an error. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "cc/mcp/jsonrpc.h"
#include "clients/http/http_client.h"
#include "clients/mcp/mcp_client_session.h"
#include "clients/mcp/oauth_client.h"

namespace kei {

namespace mcp {
class LegacyRestClient;
class StreamableHttpClientTransport;
}  // namespace mcp

struct McpClientOptions {
  // clientInfo sent in initialize.
  std::string client_name = "kei-mcp-client";
  std::string client_version = "1.0.0";

  // HTTP targets: "authorization: Bearer <token>", "<api_key_header>: <key>"
  // and extra headers on every request. stdio: the token is handed to the
  // server process as KEI_TOKEN (what `keid --mcp-stdio` reads).
  std::string bearer_token;
  std::string api_key;
  std::string api_key_header = "x-api-key";
  Metadata headers;
  // https: the server certificate is verified unless tls.verify is false.
  http::HttpTlsOptions tls;
  // Streamable HTTP: MCP authorization (OAuth 2.1). With oauth.enabled, a
  // 401 from the server starts discovery, client registration and the
  // authorization-code flow (oauth.authorization_handler plays the browser),
  // and the token obtained is sent from then on; bearer_token, if set, is sent
  // until then. See clients/mcp/oauth_client.h.
  mcp::McpOAuthOptions oauth;

  // Requests that set no timeout of their own; initialize and connecting.
  absl::Duration timeout = absl::Seconds(60);
  absl::Duration connect_timeout = absl::Seconds(30);
  // Streamable HTTP: hold the GET stream for server-initiated notifications.
  bool open_event_stream = true;

  // stdio: the server's stderr goes to ours (true) or nowhere; extra
  // environment and working directory for the server process.
  bool pass_stderr = true;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;

  // Handlers for the server's requests. Each one registered declares the
  // capability in initialize; without it the client declares none and
  // answers such a request with a JSON-RPC error.
  mcp::ServerRequestHandler sampling_handler;     // sampling/createMessage
  mcp::ServerRequestHandler elicitation_handler;  // elicitation/create
  mcp::ServerRequestHandler roots_handler;        // roots/list
  // Fill in schema defaults for fields an accepted elicitation left out.
  bool apply_elicitation_defaults = true;
};

struct CallToolOptions {
  // Called with each notifications/progress params object ({progress,
  // total?, message?, progressToken}) before call_tool returns.
  std::function<void(const mcp::Json& progress)> on_progress;
  // Zero: McpClientOptions::timeout. On expiry the server is told with
  // notifications/cancelled and the call fails with DEADLINE_EXCEEDED.
  absl::Duration timeout = absl::ZeroDuration();
};

class KEIMCPClient {
 public:
  enum class Mode { kStdio, kStreamableHttp, kLegacyRest };

  // Connects and initializes (MCP) or checks health (legacy REST).
  static absl::StatusOr<std::unique_ptr<KEIMCPClient>> Connect(absl::string_view target,
                                                               const McpClientOptions& options = {});
  // stdio with an explicit argv.
  static absl::StatusOr<std::unique_ptr<KEIMCPClient>> Connect(std::vector<std::string> command,
                                                               const McpClientOptions& options = {});
  ~KEIMCPClient();
  KEIMCPClient(const KEIMCPClient&) = delete;
  KEIMCPClient& operator=(const KEIMCPClient&) = delete;

  Mode mode() const { return mode_; }

  // ---- Tools
  // Every tool, following nextCursor through all pages.
  absl::StatusOr<std::vector<mcp::Json>> list_tools();
  // {name, inputSchema, outputSchema?}; NOT_FOUND for an unknown tool.
  absl::StatusOr<mcp::Json> get_tool_schema(absl::string_view name);
  // The CallToolResult: {content, structuredContent?, isError?}.
  absl::StatusOr<mcp::Json> call_tool(absl::string_view name, mcp::Json arguments = mcp::Json::object(),
                                      const CallToolOptions& options = {});
  absl::StatusOr<mcp::Json> execute_tool(absl::string_view name,
                                         mcp::Json arguments = mcp::Json::object(),
                                         const CallToolOptions& options = {}) {
    return call_tool(name, std::move(arguments), options);
  }

  // ---- Resources
  absl::StatusOr<std::vector<mcp::Json>> list_resources();
  absl::StatusOr<std::vector<mcp::Json>> list_resource_templates();
  // The ReadResourceResult: {contents: [{uri, mimeType?, text | blob}]}.
  absl::StatusOr<mcp::Json> read_resource(absl::string_view uri);
  absl::Status subscribe_resource(absl::string_view uri);
  absl::Status unsubscribe_resource(absl::string_view uri);

  // ---- Prompts
  absl::StatusOr<std::vector<mcp::Json>> list_prompts();
  // The GetPromptResult: {description?, messages}. `arguments` is an object
  // of strings.
  absl::StatusOr<mcp::Json> get_prompt(absl::string_view name,
                                       mcp::Json arguments = mcp::Json::object());

  // ---- Utilities
  // completion/complete for a prompt argument ({"type":"ref/prompt","name":..})
  // or a resource template variable ({"type":"ref/resource","uri":..});
  // returns the completion object {values, total?, hasMore?}.
  absl::StatusOr<mcp::Json> complete(const mcp::Json& ref, absl::string_view argument,
                                     absl::string_view value,
                                     const mcp::Json& context_arguments = nullptr);
  // debug, info, notice, warning, error, critical, alert, emergency.
  absl::Status set_logging_level(absl::string_view level);
  // serverInfo, capabilities, negotiated protocol version, instructions.
  absl::StatusOr<mcp::McpServerInfo> get_server_info();
  // Health check: MCP ping, or GET .../health in legacy mode.
  absl::Status ping();

  // Any request or notification (MCP modes only).
  absl::StatusOr<mcp::Json> request(absl::string_view method, mcp::Json params = mcp::Json::object(),
                                    const mcp::McpRequestOptions& options = {});
  absl::Status notify(absl::string_view method, mcp::Json params = nullptr);
  // Tells the server the roots changed (when a roots handler is registered).
  absl::Status notify_roots_list_changed();

  // ---- Notifications (run in order on one client thread; handlers may call
  // the client). Several handlers per kind may be registered.
  void on_tools_list_changed(std::function<void()> handler);
  void on_progress(std::function<void(const mcp::Json& progress)> handler);
  void on_logging_message(std::function<void(const mcp::Json& message)> handler);
  void on_resource_updated(std::function<void(const std::string& uri)> handler);
  void on_notification(absl::string_view method, mcp::NotificationHandler handler);

  // Ends the session (HTTP: DELETE; stdio: ends the server process).
  void close();

  // The MCP session (null in legacy mode), and the HTTP transport (null
  // unless Streamable HTTP), for tools and tests.
  mcp::McpClientSession* session() { return session_.get(); }
  mcp::StreamableHttpClientTransport* http_transport() { return http_transport_; }

 private:
  KEIMCPClient(Mode mode, McpClientOptions options);
  absl::StatusOr<std::vector<mcp::Json>> ListAll(absl::string_view method, absl::string_view key);
  absl::Status RequireSession(absl::string_view what) const;
  static http::HttpClientOptions HttpOptions(const McpClientOptions& options);
  static mcp::McpSessionOptions SessionOptions(const McpClientOptions& options);
  absl::Status StartSession(std::unique_ptr<mcp::McpClientTransport> transport);

  const Mode mode_;
  const McpClientOptions options_;
  std::unique_ptr<mcp::McpClientSession> session_;
  std::unique_ptr<mcp::LegacyRestClient> legacy_;
  mcp::StreamableHttpClientTransport* http_transport_ = nullptr;

  absl::Mutex tools_mu_;
  bool tools_cached_ ABSL_GUARDED_BY(tools_mu_) = false;
  std::vector<mcp::Json> tools_ ABSL_GUARDED_BY(tools_mu_);
};

}  // namespace kei
