// The original KEI MCP REST tool API, client side: GET {base}/api/v1/mcp/tools,
// GET .../tools/{name}/schema, POST .../tools/{name}/execute with
// {"arguments":{...}}, GET .../info and GET .../health (cc/mcp/legacy_rest.h is
// the server). KEIMCPClient uses it for `legacy+http(s)://` targets, so older
// KEI deployments keep working behind the same API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/http/http_client.h"
#include "cc/mcp/jsonrpc.h"

namespace kei::mcp {

class LegacyRestClient {
 public:
  // `base` is http(s)://host:port[/prefix]; the API lives under
  // {base}/api/v1/mcp.
  static absl::StatusOr<std::unique_ptr<LegacyRestClient>> Create(std::string base,
                                                                  http::HttpClientOptions options);

  absl::StatusOr<std::vector<Json>> ListTools(absl::Duration timeout);
  // {name, inputSchema, outputSchema?}; NOT_FOUND for an unknown tool.
  absl::StatusOr<Json> GetToolSchema(absl::string_view name, absl::Duration timeout);
  // The tool result ({content, structuredContent?, isError?}).
  absl::StatusOr<Json> CallTool(absl::string_view name, const Json& arguments,
                                absl::Duration timeout);
  // The server's initialize result (serverInfo, capabilities,
  // protocolVersion) plus "tools".
  absl::StatusOr<Json> Info(absl::Duration timeout);
  // {"status":"ok","tools":N}; an error unless the status is "ok".
  absl::StatusOr<Json> Health(absl::Duration timeout);

 private:
  LegacyRestClient(std::string base, std::unique_ptr<http::HttpClient> client)
      : base_(std::move(base)), client_(std::move(client)) {}
  absl::StatusOr<Json> Call(absl::string_view method, absl::string_view path, std::string body,
                            absl::Duration timeout);

  const std::string base_;
  std::unique_ptr<http::HttpClient> client_;
};

}  // namespace kei::mcp
