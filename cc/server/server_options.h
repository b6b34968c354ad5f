// Everything that configures a kei::Server. keid fills this from its flags and
// JSON config; tests and embedders fill it directly.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "cc/dispatch/limits_interceptor.h"
#include "cc/http/http_server.h"
#include "cc/mcp/mcp_server.h"
#include "cc/mcp/streamable_http.h"
#include "cc/pubsub/topic_backend.h"
#include "cc/security/auth_interceptor.h"
#include "cc/security/tls_config.h"
#include "cc/websocket/ws_options.h"

namespace kei {

struct ServerOptions {
  // host:port for the gRPC listener; port 0 picks a free port (see Server::grpc_port).
  std::string grpc_address = "127.0.0.1:0";
  // host:port for the HTTP listener (Connect, REST routes, health); empty
  // for none. Uses the same TLS settings as gRPC.
  std::string http_address;
  // HTTP limits; its address and TLS fields are taken from the fields here.
  http::HttpServerOptions http;
  // The KEI stream protocol over WebSocket on the HTTP listener
  // (docs/websocket-protocol.md); an empty path turns it off.
  websocket::WebSocketOptions websocket;
  // MCP: every unary method of every service is a tool (unless its
  // annotation opts out); the engine's identity, paging and session limits.
  mcp::McpServerOptions mcp;
  // MCP's Streamable HTTP transport on the HTTP listener; an empty path
  // turns it off.
  mcp::StreamableHttpOptions mcp_http;
  // Serve topics: the kei.v1.Topics service on every protocol and topic
  // frames on WebSocket.
  bool enable_topics = true;
  // Where topics live; null means an in-process MemoryTopics. The bus plugs
  // in here.
  std::shared_ptr<pubsub::TopicBackend> topics;
  ServerTlsConfig tls;
  AuthOptions auth;
  CallLimits limits;
  // Threads that run unary handlers, apart from gRPC's and HTTP's I/O
  // threads; this many handlers may block at once before calls queue.
  int handler_threads = 64;
  // Largest message accepted or sent, in bytes.
  int max_message_bytes = 4 * 1024 * 1024;
  // How long Shutdown lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // gRPC server reflection (grpc.reflection.v1alpha), used by keictl list and grpcurl.
  bool enable_reflection = true;
  // HTTP/2 keepalive pings to idle clients.
  absl::Duration keepalive_time = absl::Minutes(2);
  absl::Duration keepalive_timeout = absl::Seconds(20);
};

}  // namespace kei
