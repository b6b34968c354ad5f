// One MCP session from the client side, over any McpClientTransport: the
// initialize handshake with version negotiation, JSON-RPC request ids and
// response matching, per-request timeouts that send notifications/cancelled,
// progress routed to the request that asked for it, notifications to
// registered handlers, server->client requests (sampling, elicitation,
// roots, ping) answered by registered handlers or with a JSON-RPC error, and
// a transparent re-initialize when an HTTP server forgot the session.
//
// Threads: transports deliver messages from their reader threads; responses
// complete waiting callers at once, everything else (notifications, server
// requests) runs in order on one dispatcher thread, so handlers may call back
// into the session. Every public method is thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/mcp/mcp_client_transport.h"

namespace kei::mcp {

// The protocol versions this client speaks, newest first; it offers the first.
inline constexpr const char* kClientProtocolVersions[] = {"2025-11-25", "2025-06-18",
                                                          "2025-03-26"};

// What the server said about itself in the initialize result.
struct McpServerInfo {
  Json server_info;   // {name, version, title?, ...}
  Json capabilities;  // the server's capabilities object
  std::string protocol_version;
  std::string instructions;
};

// Answers a server->client request: the result object, or a status that
// becomes a JSON-RPC error.
using ServerRequestHandler = std::function<absl::StatusOr<Json>(const Json& params)>;
using NotificationHandler = std::function<void(const Json& params)>;

struct McpSessionOptions {
  std::string client_name = "kei-mcp-client";
  std::string client_version = "1.0.0";
  // Requests that set no timeout of their own.
  absl::Duration request_timeout = absl::Seconds(60);
  // initialize (each time it runs).
  absl::Duration initialize_timeout = absl::Seconds(30);
  // Registering one declares the capability; without it the client declares
  // none and answers such requests with a JSON-RPC error.
  ServerRequestHandler sampling;     // sampling/createMessage
  ServerRequestHandler elicitation;  // elicitation/create
  ServerRequestHandler roots;        // roots/list
  // For an accepted elicitation, fill in the requested schema's defaults for
  // fields the handler left out (SEP-1034).
  bool apply_elicitation_defaults = true;
};

struct McpRequestOptions {
  // Zero: McpSessionOptions::request_timeout.
  absl::Duration timeout = absl::ZeroDuration();
  // Set: the request carries a progress token and each
  // notifications/progress for it is passed here (params object), on the
  // dispatcher thread, before the request returns.
  std::function<void(const Json& progress)> on_progress;
};

class McpClientSession {
 public:
  McpClientSession(std::unique_ptr<McpClientTransport> transport, McpSessionOptions options);
  ~McpClientSession();
  McpClientSession(const McpClientSession&) = delete;
  McpClientSession& operator=(const McpClientSession&) = delete;

  // Starts the transport and initializes. FAILED_PRECONDITION when the server
  // answers with a protocol version this client does not speak.
  absl::Status Connect();

  // Sends a request and waits for its result. JSON-RPC errors become their
  // canonical status; DEADLINE_EXCEEDED after the timeout (the server is told
  // with notifications/cancelled). A request the server rejects because it
  // forgot the session is retried once after initializing again.
  absl::StatusOr<Json> Request(absl::string_view method, Json params,
                               const McpRequestOptions& options = {});
  absl::Status Notify(absl::string_view method, Json params = nullptr);

  // Handlers for a notification method; several may be registered.
  void OnNotification(absl::string_view method, NotificationHandler handler);

  McpServerInfo server_info() const;
  // How many times initialize has succeeded (1 after Connect).
  int initializations() const;
  McpClientTransport& transport() { return *transport_; }

  // Ends the session; waiting requests fail with CANCELLED. Idempotent.
  void Close();

 private:
  struct Pending {
    bool done = false;
    Json response;
    std::function<void(const Json&)> on_progress;
  };

  absl::Status Initialize();
  absl::StatusOr<Json> RequestOnce(absl::string_view method, Json params,
                                   const McpRequestOptions& options, int* epoch);
  void HandleMessage(Json message);
  void HandleClosed(absl::Status why);
  void DispatchLoop();
  void Dispatch(const JsonRpcMessage& message);
  void AnswerServerRequest(const JsonRpcMessage& message);
  // Waits until the dispatcher has run everything queued so far (no-op on
  // the dispatcher thread itself).
  void AwaitDispatched();
  Json Capabilities() const;

  std::unique_ptr<McpClientTransport> transport_;
  const McpSessionOptions options_;

  mutable absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status closed_reason_ ABSL_GUARDED_BY(mu_);
  McpServerInfo info_ ABSL_GUARDED_BY(mu_);
  int epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> subscriptions_ ABSL_GUARDED_BY(mu_);
  // The dispatcher's queue and progress counters.
  std::deque<JsonRpcMessage> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dispatched_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_dispatcher_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex handlers_mu_;
  std::map<std::string, std::vector<NotificationHandler>, std::less<>> handlers_
      ABSL_GUARDED_BY(handlers_mu_);

  // One initialize at a time.
  absl::Mutex init_mu_;
  std::thread dispatcher_;
};

}  // namespace kei::mcp
