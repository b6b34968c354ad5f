// Creates transports and typed clients by URL scheme (grpc://, grpcs://, ...)
// or by protocol. Each protocol registers its schemes in builtin_transports.cc;
// adding a protocol is one transport file plus one line there.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/client_config.h"
#include "clients/protocol.h"
#include "clients/transport.h"

namespace kei {

class KEIRPCClient;

class ProtocolClientFactory {
 public:
  using Maker = std::function<absl::StatusOr<std::shared_ptr<Transport>>(
      const Endpoint& endpoint, const ClientConfig& config)>;

  // The factory with every built-in protocol registered.
  static const ProtocolClientFactory& Default();

  void RegisterScheme(std::string scheme, Protocol protocol, Maker maker);

  // By URL, e.g. "grpcs://agent.example:443".
  absl::StatusOr<std::shared_ptr<Transport>> CreateTransport(absl::string_view url,
                                                             const ClientConfig& config) const;
  // By protocol and "host:port"; `tls` picks the secure scheme.
  absl::StatusOr<std::shared_ptr<Transport>> CreateTransport(Protocol protocol,
                                                             absl::string_view address,
                                                             bool tls,
                                                             const ClientConfig& config) const;
  absl::StatusOr<std::unique_ptr<KEIRPCClient>> CreateRpcClient(
      absl::string_view url, const ClientConfig& config) const;

  bool Supports(absl::string_view scheme) const;
  std::vector<std::string> Schemes() const;

 private:
  struct Entry {
    Protocol protocol;
    Maker maker;
  };
  std::map<std::string, Entry, std::less<>> schemes_;
};

// Registers the protocols this build ships; see builtin_transports.cc.
void RegisterBuiltinTransports(ProtocolClientFactory& factory);

}  // namespace kei
