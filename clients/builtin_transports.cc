// The protocols this build ships, by URL scheme. A new protocol adds its
// transport file and one line here.
#include "clients/grpc/grpc_transport.h"
#include "clients/http/http_transport.h"
#include "clients/mcp/mcp_transport.h"
#include "clients/protocol_client_factory.h"
#include "clients/ws/ws_transport.h"

namespace kei {

void RegisterBuiltinTransports(ProtocolClientFactory& factory) {
  auto grpc = [](const Endpoint& endpoint, const ClientConfig& config)
      -> absl::StatusOr<std::shared_ptr<Transport>> {
    auto transport = GrpcTransport::Create(endpoint, config);
    if (!transport.ok()) return transport.status();
    return std::shared_ptr<Transport>(*std::move(transport));
  };
  factory.RegisterScheme("grpc", Protocol::kGrpc, grpc);
  factory.RegisterScheme("grpcs", Protocol::kGrpc, grpc);

  auto http = [](const Endpoint& endpoint, const ClientConfig& config)
      -> absl::StatusOr<std::shared_ptr<Transport>> {
    auto transport = HttpTransport::Create(endpoint, config);
    if (!transport.ok()) return transport.status();
    return std::shared_ptr<Transport>(*std::move(transport));
  };
  factory.RegisterScheme("http", Protocol::kHttp, http);
  factory.RegisterScheme("https", Protocol::kHttp, http);

  auto ws = [](const Endpoint& endpoint, const ClientConfig& config)
      -> absl::StatusOr<std::shared_ptr<Transport>> {
    auto transport = WsTransport::Create(endpoint, config);
    if (!transport.ok()) return transport.status();
    return std::shared_ptr<Transport>(*std::move(transport));
  };
  factory.RegisterScheme("ws", Protocol::kWebSocket, ws);
  factory.RegisterScheme("wss", Protocol::kWebSocket, ws);

  // Unary calls as MCP tool calls on a Streamable HTTP endpoint.
  auto mcp = [](const Endpoint& endpoint, const ClientConfig& config)
      -> absl::StatusOr<std::shared_ptr<Transport>> {
    auto transport = McpTransport::Create(endpoint, config);
    if (!transport.ok()) return transport.status();
    return std::shared_ptr<Transport>(*std::move(transport));
  };
  factory.RegisterScheme("mcp+http", Protocol::kMcp, mcp);
  factory.RegisterScheme("mcp+https", Protocol::kMcp, mcp);
}

}  // namespace kei
