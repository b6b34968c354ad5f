// MCP's Streamable HTTP transport on the kit's HTTP listener: POST carries
// client messages (answered with JSON, or with an SSE stream when the request
// wants progress or its tool sends notifications), GET opens the session's
// stream for server-initiated messages, DELETE ends a session. Sessions are
// named by Mcp-Session-Id; every SSE event has an id so a client can resume a
// broken stream with Last-Event-ID; Origin is checked against DNS rebinding;
// every request passes the kit's interceptor chain (auth) before the engine
// sees it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/http/http_message.h"
#include "cc/mcp/mcp_server.h"

namespace kei::mcp {

struct StreamableHttpOptions {
  std::string path = "/mcp";
  // Origins allowed in addition to loopback ones (http(s)://localhost,
  // 127.0.0.1, [::1], any port). "*" allows every origin. Requests without an
  // Origin header (non-browser clients) are always allowed.
  std::vector<std::string> allowed_origins;
  // DNS-rebinding protection for a listener on loopback: requests whose Host
  // is not a loopback name (or one of `allowed_hosts`) are refused. The
  // server turns this on when its HTTP address is a loopback address.
  bool loopback_hosts_only = false;
  std::vector<std::string> allowed_hosts;
  // Events each SSE stream keeps for resumption.
  size_t replay_events = 1024;
  // Comment lines on idle GET streams, so dead clients are noticed.
  absl::Duration keepalive = absl::Seconds(15);
  // The SSE `retry` hint (how long a client waits before reconnecting).
  absl::Duration retry = absl::Seconds(1);
};

class StreamableHttp {
 public:
  StreamableHttp(std::shared_ptr<McpServer> server, const Dispatcher& dispatcher,
                 StreamableHttpOptions options);

  const std::string& path() const { return options_.path; }
  http::HttpResult Handle(http::HttpRequest request) const;

 private:
  http::HttpResult Post(http::HttpRequest request) const;
  http::HttpResult Batch(Json batch, const std::string& session_id, Context& call) const;
  http::HttpResult Get(http::HttpRequest request) const;
  http::HttpResult Delete(http::HttpRequest request) const;
  bool OriginAllowed(absl::string_view origin) const;
  bool HostAllowed(absl::string_view host) const;

  std::shared_ptr<McpServer> server_;
  const Dispatcher& dispatcher_;
  StreamableHttpOptions options_;
};

// The MethodInfo the interceptor chain sees for MCP requests.
const MethodInfo& McpEndpointMethod();

// Runs the interceptor chain (auth, limits) for an HTTP request to an MCP
// endpoint: its headers, peer and client certificate.
absl::Status AdmitMcpRequest(const Dispatcher& dispatcher, const http::HttpRequest& request);

}  // namespace kei::mcp
