// The protocols a client can speak, and endpoint URLs that name them:
// grpc://host:port, grpcs://host:port (TLS), http(s)://, ws(s)://,
// mcp+http(s)://host:port/path (unary calls as MCP tool calls), ...
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kei {

enum class Protocol { kGrpc, kHttp, kWebSocket, kMcp, kBus, kUnified };

absl::string_view ProtocolName(Protocol protocol);

struct Endpoint {
  std::string scheme;  // "grpc", "grpcs", "mcp+https", ... (lower case)
  std::string host;    // without brackets for IPv6
  int port = 0;
  std::string path;    // "" or "/..."
  bool tls = false;

  // "host:port" with IPv6 hosts bracketed.
  std::string authority() const;
};

// Parses "scheme://host:port[/path]". A bare "host:port" is taken as grpc://.
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view url);

}  // namespace kei
