// UnifiedClient: one client over several endpoints and protocols. It is itself
// a Transport, so typed clients (KEIRPCClient, ...) run on it unchanged. Per
// call it asks the ProtocolSelector for an order, tries the first protocol,
// and falls back to the next only on UNAVAILABLE when that is safe; a protocol
// that failed to connect is skipped for a cool-down period.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/client_config.h"
#include "clients/protocol_client_factory.h"
#include "clients/protocol_selector.h"
#include "clients/transport.h"

namespace kei {

struct UnifiedClientOptions {
  // One URL per protocol, e.g. {"grpc://127.0.0.1:50051", "http://127.0.0.1:8080"}.
  std::vector<std::string> endpoints;
  // Protocols to try first, in order; empty for the kit's defaults.
  std::vector<Protocol> preference;
  ClientConfig config;
  // How long a protocol that could not connect is tried only as a last resort.
  absl::Duration unavailable_cooldown = absl::Seconds(5);
};

class UnifiedClient final : public Transport {
 public:
  static absl::StatusOr<std::shared_ptr<UnifiedClient>> Create(
      UnifiedClientOptions options,
      const ProtocolClientFactory& factory = ProtocolClientFactory::Default());

  // Transport: selection and fallback for one attempt; retries belong to the
  // caller (InvokeUnary, or Call below).
  Protocol protocol() const override { return Protocol::kUnified; }
  std::string target() const override;
  AttemptOutcome Unary(const MethodInfo& method, const google::protobuf::Message& request,
                       google::protobuf::Message* response,
                       const CallOptions& options) override;
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
      const MethodInfo& method, const CallOptions& options) override;
  bool Available() const override;

  // Unary call by method name, with the configured retry policy.
  absl::Status Call(absl::string_view method, const google::protobuf::Message& request,
                    google::protobuf::Message* response, const CallOptions& options = {});
  absl::StatusOr<std::string> CallJson(absl::string_view method, absl::string_view json,
                                       const CallOptions& options = {});

  // The protocols in the order the next call of `kind` would try them.
  std::vector<Protocol> Plan(CallKind kind) const;
  // Protocol that carried the most recent successful call.
  Protocol last_protocol() const;

 private:
  UnifiedClient(UnifiedClientOptions options,
                std::map<Protocol, std::shared_ptr<Transport>> transports);
  bool IsUsable(Protocol protocol) const;
  void MarkDown(Protocol protocol);

  UnifiedClientOptions options_;
  ProtocolSelector selector_;
  std::map<Protocol, std::shared_ptr<Transport>> transports_;
  std::vector<Protocol> offered_;
  mutable absl::Mutex mu_;
  std::map<Protocol, absl::Time> down_until_ ABSL_GUARDED_BY(mu_);
  Protocol last_protocol_ ABSL_GUARDED_BY(mu_) = Protocol::kGrpc;
};

}  // namespace kei
