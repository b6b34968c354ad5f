// The wire under an MCP client session: something that carries JSON-RPC
// messages to one server and hands back everything the server sends. Two
// implementations, chosen by the target: stdio (a child process) and
// Streamable HTTP. The session (mcp_client_session.h) owns ids, matching,
// timeouts and the lifecycle; a transport only moves messages.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/mcp/jsonrpc.h"

namespace kei::mcp {

// Status payload marking "the server forgot this session" (HTTP 404 on a
// request carrying Mcp-Session-Id): the session initializes again and retries.
inline constexpr char kSessionExpiredPayload[] = "kei.mcp/session-expired";
inline bool IsSessionExpired(const absl::Status& status) {
  return status.GetPayload(kSessionExpiredPayload).has_value();
}
inline absl::Status SessionExpiredError(absl::string_view message) {
  absl::Status status = absl::NotFoundError(message);
  status.SetPayload(kSessionExpiredPayload, absl::Cord("1"));
  return status;
}

class McpClientTransport {
 public:
  // Every message the server sends (responses, notifications, requests).
  using MessageHandler = std::function<void(Json message)>;
  // The connection is gone for good (process exited, ...).
  using ClosedHandler = std::function<void(absl::Status why)>;

  virtual ~McpClientTransport() = default;

  // Called once before the first Send.
  virtual absl::Status Start(MessageHandler on_message, ClosedHandler on_closed) = 0;

  // Sends one message. For a request, `deadline` bounds how long the
  // transport may spend on it; a transport that receives the response as
  // the answer to this send (HTTP) may deliver it through the handler before
  // returning. `request_id` is the request's id (null for notifications and
  // responses); the transport stops reading an answer once that id's response
  // arrived.
  virtual absl::Status Send(const Json& message, const Json& request_id, absl::Time deadline) = 0;

  // After a successful initialize: the negotiated version (sent as
  // MCP-Protocol-Version by HTTP) and the moment to open server-initiated
  // streams.
  virtual void Initialized(absl::string_view protocol_version) {}
  // After notifications/initialized: opens the channel for server-initiated
  // messages (Streamable HTTP's GET stream) and returns once the server has
  // answered it, so what the server sends there is not missed.
  virtual void OpenServerChannel() {}
  // Before initializing again: drop the old session's state.
  virtual void ResetSession() {}

  // Ends the connection (HTTP: DELETE the session; stdio: end the process).
  virtual void Close() = 0;

  // "stdio" or "streamable-http".
  virtual std::string name() const = 0;
};

}  // namespace kei::mcp
