#include "clients/protocol.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kei {

absl::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kGrpc: return "grpc";
    case Protocol::kHttp: return "http";
    case Protocol::kWebSocket: return "ws";
    case Protocol::kMcp: return "mcp";
    case Protocol::kBus: return "bus";
    case Protocol::kUnified: return "unified";
  }
  return "unknown";
}

std::string Endpoint::authority() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view url) {
  Endpoint endpoint;
  absl::string_view rest = url;
  auto sep = rest.find("://");
  if (sep == absl::string_view::npos) {
    endpoint.scheme = "grpc";
  } else {
    endpoint.scheme = absl::AsciiStrToLower(rest.substr(0, sep));
    rest.remove_prefix(sep + 3);
  }
  auto slash = rest.find('/');
  if (slash != absl::string_view::npos) {
    endpoint.path = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  absl::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad endpoint '", url, "': unclosed '['"));
    }
    endpoint.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() == ':') port_text = rest.substr(1);
    else if (!rest.empty()) return absl::InvalidArgumentError(absl::StrCat("bad endpoint '", url, "'"));
  } else {
    auto colon = rest.rfind(':');
    endpoint.host = std::string(rest.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = rest.substr(colon + 1);
    if (endpoint.host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad endpoint '", url, "': IPv6 addresses must be in brackets, e.g. [::1]:50051"));
    }
  }
  if (endpoint.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("bad endpoint '", url, "': missing host"));
  }
  endpoint.tls = endpoint.scheme == "grpcs" || endpoint.scheme == "https" ||
                 endpoint.scheme == "wss" || endpoint.scheme == "mcp+https";
  if (port_text.empty()) {
    endpoint.port = endpoint.tls ? 443 : (endpoint.scheme == "grpc" ? 50051 : 80);
  } else if (!absl::SimpleAtoi(port_text, &endpoint.port) || endpoint.port <= 0 ||
             endpoint.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad endpoint '", url, "': bad port"));
  }
  return endpoint;
}

}  // namespace kei
