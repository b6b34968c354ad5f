#include "cc/grpc/grpc_context.h"

#include <chrono>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"

namespace kei::grpc_glue {

void InitContext(grpc::CallbackServerContext* server_context, Context* context) {
  context->set_protocol("grpc");
  context->set_peer(server_context->peer());
  auto deadline = server_context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    context->set_deadline(absl::FromChrono(deadline));
  }
  Metadata& metadata = context->mutable_metadata();
  for (const auto& [key, value] : server_context->client_metadata()) {
    metadata.emplace(std::string(key.data(), key.size()),
                     std::string(value.data(), value.size()));
  }
  auto auth = server_context->auth_context();
  if (auth && auth->IsPeerAuthenticated()) {
    Identity identity;
    identity.scheme = "mtls";
    for (const auto& cn : auth->FindPropertyValues("x509_common_name")) {
      identity.subject.assign(cn.data(), cn.size());
    }
    for (const auto& subject : auth->FindPropertyValues("x509_subject")) {
      identity.attributes["x509_subject"].assign(subject.data(), subject.size());
    }
    context->set_transport_identity(std::move(identity));
  }
}

void SendResponseMetadata(const Context& context,
                          grpc::CallbackServerContext* server_context) {
  for (const auto& [key, value] : context.response_metadata()) {
    // gRPC aborts the whole server on an invalid key or value, so a handler's
    // (or a caller-echoed) bad entry is dropped instead of sent.
    std::string lower = absl::AsciiStrToLower(key);
    if (!IsValidMetadataKey(lower) || !IsValidMetadataValue(lower, value)) continue;
    server_context->AddTrailingMetadata(lower, value);
  }
}

}  // namespace kei::grpc_glue
