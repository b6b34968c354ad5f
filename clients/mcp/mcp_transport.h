// The MCP Transport: unary calls of any method as MCP tool calls, so
// KEIRPCClient, `keictl call` and the UnifiedClient work over mcp+http:// and
// mcp+https:// URLs unchanged. The server side (cc/mcp/proto_tools.h) exposes
// every unary method as a tool; this is its mirror image:
//
//   tool name  ToolNameForMethod(descriptor), the same function the server
//              names tools with; when the server lists the name-clash
//              fallback (full method name with '.' and '/' as '_'), that one
//   arguments  the request's proto3 JSON
//   response   structuredContent (or the first text content) as proto3 JSON
//   errors     a result with isError: true carries "CODE: message" and
//              becomes that status; JSON-RPC and HTTP errors keep their
//              canonical code, except "Unknown tool", which is UNIMPLEMENTED
//
// One KEIMCPClient session over Streamable HTTP carries every call. It opens
// on first use (or Connect) and again after the server became unreachable, so
// a UnifiedClient can be created while the MCP endpoint is down and falls
// back at the first call: a failed connect is UNAVAILABLE with
// reached_server = false, and Available() is false for a moment after it.
//
// Deadlines bound the local wait; on expiry the server is told with
// notifications/cancelled (MCP has no deadline on the wire). Credentials,
// ClientConfig metadata and TLS settings go on every HTTP request; a call
// with metadata of its own runs on a one-off session carrying it as headers.
// MCP tools are unary: OpenStream is UNIMPLEMENTED.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "clients/client_config.h"
#include "clients/protocol.h"
#include "clients/transport.h"

namespace kei {

// Not included here: clients/http's types clash with the server's (cc/http),
// and programs that run a server and call it include both sides.
class KEIMCPClient;

struct McpTransportOptions {
  // Bounds connecting and initializing (and the call's deadline does too).
  absl::Duration connect_timeout = absl::Seconds(10);
  // How long Available() reports false after a failed connect.
  absl::Duration unavailable_after_failure = absl::Seconds(1);
};

class McpTransport final : public Transport {
 public:
  // `endpoint`: mcp+http://host:port[/path] or mcp+https://... (TLS); the
  // path defaults to /mcp. Nothing connects until the first call or Connect.
  static absl::StatusOr<std::shared_ptr<McpTransport>> Create(const Endpoint& endpoint,
                                                              const ClientConfig& config,
                                                              McpTransportOptions options = {});
  ~McpTransport() override;

  Protocol protocol() const override { return Protocol::kMcp; }
  // "mcp+http://127.0.0.1:8080/mcp"
  std::string target() const override { return target_; }
  AttemptOutcome Unary(const MethodInfo& method, const google::protobuf::Message& request,
                       google::protobuf::Message* response,
                       const CallOptions& options) override;
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
      const MethodInfo& method, const CallOptions& options) override;
  bool Available() const override;

  // Opens the session unless it is open.
  absl::Status Connect();
  // Ends the session (the next call opens a new one).
  void Disconnect();
  bool connected() const;
  // The Streamable HTTP URL, e.g. "http://127.0.0.1:8080/mcp".
  const std::string& url() const { return url_; }
  // The tool a method is called as (lists the server's tools once to spot
  // the name-clash fallback).
  std::string ToolName(const MethodInfo& method);

 private:
  McpTransport(std::string url, std::string target, ClientConfig config,
               McpTransportOptions options);
  // Connects a KEIMCPClient with the config's (and a call's) headers.
  absl::StatusOr<std::shared_ptr<KEIMCPClient>> Open(const Metadata& call_metadata,
                                                     absl::Time deadline) const;
  // The shared session, connecting it if needed within `deadline`.
  absl::StatusOr<std::shared_ptr<KEIMCPClient>> Session(absl::Time deadline);
  void Forget(const std::shared_ptr<KEIMCPClient>& client);
  void LearnTools(KEIMCPClient& client, absl::Time deadline);

  const std::string url_;
  const std::string target_;
  const ClientConfig config_;
  const McpTransportOptions options_;

  absl::Mutex connect_mu_;  // one connection attempt at a time
  mutable absl::Mutex mu_;
  std::shared_ptr<KEIMCPClient> client_ ABSL_GUARDED_BY(mu_);
  absl::Time last_failure_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The server's tool names, once listed (tools_known_).
  bool tools_known_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> tools_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei
