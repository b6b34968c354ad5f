#include "clients/protocol_client_factory.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/kei_rpc_client.h"

namespace kei {

const ProtocolClientFactory& ProtocolClientFactory::Default() {
  static const ProtocolClientFactory* factory = [] {
    auto* f = new ProtocolClientFactory();
    RegisterBuiltinTransports(*f);
    return f;
  }();
  return *factory;
}

void ProtocolClientFactory::RegisterScheme(std::string scheme, Protocol protocol, Maker maker) {
  schemes_[std::move(scheme)] = Entry{protocol, std::move(maker)};
}

absl::StatusOr<std::shared_ptr<Transport>> ProtocolClientFactory::CreateTransport(
    absl::string_view url, const ClientConfig& config) const {
  auto endpoint = ParseEndpoint(url);
  if (!endpoint.ok()) return endpoint.status();
  auto it = schemes_.find(endpoint->scheme);
  if (it == schemes_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported scheme '", endpoint->scheme, "://' (supported: ",
        absl::StrJoin(Schemes(), ", "), ")"));
  }
  return it->second.maker(*endpoint, config);
}

absl::StatusOr<std::shared_ptr<Transport>> ProtocolClientFactory::CreateTransport(
    Protocol protocol, absl::string_view address, bool tls, const ClientConfig& config) const {
  for (const auto& [scheme, entry] : schemes_) {
    if (entry.protocol != protocol) continue;
    auto endpoint = ParseEndpoint(absl::StrCat(scheme, "://", address));
    if (!endpoint.ok()) return endpoint.status();
    if (endpoint->tls != tls) continue;
    return entry.maker(*endpoint, config);
  }
  return absl::UnimplementedError(absl::StrCat("no ", tls ? "secure " : "",
                                               ProtocolName(protocol),
                                               " transport in this build"));
}

absl::StatusOr<std::unique_ptr<KEIRPCClient>> ProtocolClientFactory::CreateRpcClient(
    absl::string_view url, const ClientConfig& config) const {
  auto transport = CreateTransport(url, config);
  if (!transport.ok()) return transport.status();
  return std::make_unique<KEIRPCClient>(*std::move(transport), config.retry);
}

bool ProtocolClientFactory::Supports(absl::string_view scheme) const {
  return schemes_.find(scheme) != schemes_.end();
}

std::vector<std::string> ProtocolClientFactory::Schemes() const {
  std::vector<std::string> out;
  for (const auto& [scheme, _] : schemes_) out.push_back(scheme);
  return out;
}

}  // namespace kei
