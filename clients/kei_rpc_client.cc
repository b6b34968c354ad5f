#include "clients/kei_rpc_client.h"

#include <map>

#include "clients/json_call.h"
#include "clients/protocol_client_factory.h"
#include "clients/unary_invoker.h"

namespace kei {
namespace {

// Method infos of kei.agent.v1.AgentService, built once.
const MethodInfo& AgentMethod(const char* name) {
  static const auto* methods = [] {
    auto* out = new std::map<std::string, MethodInfo, std::less<>>();
    const auto* service = agent::v1::PlanRequest::descriptor()->file()->FindServiceByName(
        "AgentService");
    for (int i = 0; i < service->method_count(); ++i) {
      out->emplace(service->method(i)->name(), MethodInfo::FromDescriptor(service->method(i)));
    }
    return out;
  }();
  return methods->find(name)->second;
}

}  // namespace

KEIRPCClient::KEIRPCClient(std::shared_ptr<Transport> transport, RetryPolicy retry,
                           const DescriptorRegistry* registry)
    : transport_(std::move(transport)), retry_(retry), registry_(registry) {}

absl::StatusOr<std::unique_ptr<KEIRPCClient>> KEIRPCClient::Connect(absl::string_view url,
                                                                    const ClientConfig& config) {
  return ProtocolClientFactory::Default().CreateRpcClient(url, config);
}

template <class Response>
absl::StatusOr<Response> KEIRPCClient::Typed(const MethodInfo& method,
                                             const google::protobuf::Message& request,
                                             const CallOptions& options) {
  Response response;
  absl::Status status = InvokeUnary(*transport_, method, request, &response, options, retry_);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<agent::v1::PlanResponse> KEIRPCClient::Plan(
    const agent::v1::PlanRequest& request, const CallOptions& options) {
  return Typed<agent::v1::PlanResponse>(AgentMethod("Plan"), request, options);
}

absl::StatusOr<agent::v1::ActResponse> KEIRPCClient::Act(const agent::v1::ActRequest& request,
                                                         const CallOptions& options) {
  return Typed<agent::v1::ActResponse>(AgentMethod("Act"), request, options);
}

absl::StatusOr<agent::v1::ObserveResponse> KEIRPCClient::Observe(
    const agent::v1::ObserveRequest& request, const CallOptions& options) {
  return Typed<agent::v1::ObserveResponse>(AgentMethod("Observe"), request, options);
}

absl::StatusOr<agent::v1::ExplainResponse> KEIRPCClient::Explain(
    const agent::v1::ExplainRequest& request, const CallOptions& options) {
  return Typed<agent::v1::ExplainResponse>(AgentMethod("Explain"), request, options);
}

absl::Status KEIRPCClient::Call(absl::string_view method_name,
                                const google::protobuf::Message& request,
                                google::protobuf::Message* response,
                                const CallOptions& options) {
  auto method = registry_->FindMethod(method_name);
  if (!method.ok()) return method.status();
  return InvokeUnary(*transport_, *method, request, response, options, retry_);
}

absl::StatusOr<std::string> KEIRPCClient::CallJson(absl::string_view method,
                                                   absl::string_view json,
                                                   const CallOptions& options) {
  return CallUnaryJson(*transport_, *registry_, method, json, options, retry_);
}

}  // namespace kei
