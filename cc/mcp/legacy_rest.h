// The original KEI MCP client's REST tool API, served from the same tool
// registry as MCP itself: GET /api/v1/mcp/tools, GET
// /api/v1/mcp/tools/{name}/schema, POST /api/v1/mcp/tools/{name}/execute,
// GET /api/v1/mcp/info and GET /api/v1/mcp/health. Calls pass the same
// interceptor chain as every protocol.
#pragma once

#include <memory>

#include "cc/dispatch/dispatcher.h"
#include "cc/http/http_message.h"
#include "cc/mcp/mcp_server.h"

namespace kei::mcp {

inline constexpr char kLegacyRestPrefix[] = "/api/v1/mcp";

class LegacyRest {
 public:
  LegacyRest(std::shared_ptr<McpServer> server, const Dispatcher& dispatcher)
      : server_(std::move(server)), dispatcher_(dispatcher) {}

  // Any path under kLegacyRestPrefix.
  http::HttpResult Handle(http::HttpRequest request) const;

 private:
  std::shared_ptr<McpServer> server_;
  const Dispatcher& dispatcher_;
};

}  // namespace kei::mcp
