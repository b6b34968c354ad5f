// KEIRPCClient: the KEI-RPC calls (plan, act, observe, explain) as typed
// methods, plus a generic Call for any method, over any Transport — a single
// protocol's or the UnifiedClient. Every call goes through the shared retry
// and deadline policy.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/registry/descriptor_registry.h"
#include "cc/retry/retry_policy.h"
#include "clients/call_options.h"
#include "clients/client_config.h"
#include "clients/transport.h"
#include "kei/agent/v1/agent.pb.h"

namespace kei {

class KEIRPCClient {
 public:
  explicit KEIRPCClient(std::shared_ptr<Transport> transport, RetryPolicy retry = {},
                        const DescriptorRegistry* registry = &DescriptorRegistry::Default());

  // Connects by URL through ProtocolClientFactory::Default().
  static absl::StatusOr<std::unique_ptr<KEIRPCClient>> Connect(absl::string_view url,
                                                               const ClientConfig& config = {});

  absl::StatusOr<agent::v1::PlanResponse> Plan(const agent::v1::PlanRequest& request,
                                               const CallOptions& options = {});
  absl::StatusOr<agent::v1::ActResponse> Act(const agent::v1::ActRequest& request,
                                             const CallOptions& options = {});
  absl::StatusOr<agent::v1::ObserveResponse> Observe(const agent::v1::ObserveRequest& request,
                                                     const CallOptions& options = {});
  absl::StatusOr<agent::v1::ExplainResponse> Explain(const agent::v1::ExplainRequest& request,
                                                     const CallOptions& options = {});

  // Any unary method, with messages of its types.
  absl::Status Call(absl::string_view method, const google::protobuf::Message& request,
                    google::protobuf::Message* response, const CallOptions& options = {});
  // Any unary method the registry knows, JSON in and out.
  absl::StatusOr<std::string> CallJson(absl::string_view method, absl::string_view json,
                                       const CallOptions& options = {});

  Transport& transport() { return *transport_; }

 private:
  template <class Response>
  absl::StatusOr<Response> Typed(const MethodInfo& method,
                                 const google::protobuf::Message& request,
                                 const CallOptions& options);

  std::shared_ptr<Transport> transport_;
  RetryPolicy retry_;
  const DescriptorRegistry* registry_;
};

}  // namespace kei
