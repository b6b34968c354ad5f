// The gRPC Transport: any method by name over one shared channel, with the
// message types left to the caller (generated classes or DynamicMessages from
// a descriptor set). Unary calls take the same blocking path generated stubs
// use, templated on google::protobuf::Message, so a generic call costs what a
// typed one does; streams use gRPC's sync reader-writer the same way.
#pragma once

#include <memory>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "clients/client_config.h"
#include "clients/protocol.h"
#include "clients/transport.h"
#include "grpcpp/channel.h"

namespace grpc {
class ClientContext;
namespace internal {
class RpcMethod;
}
}  // namespace grpc

namespace kei {

class GrpcTransport final : public Transport {
 public:
  // `endpoint` scheme grpc:// or grpcs:// (TLS).
  static absl::StatusOr<std::shared_ptr<GrpcTransport>> Create(const Endpoint& endpoint,
                                                               ClientConfig config);
  ~GrpcTransport() override;

  Protocol protocol() const override { return Protocol::kGrpc; }
  std::string target() const override { return target_; }
  AttemptOutcome Unary(const MethodInfo& method, const google::protobuf::Message& request,
                       google::protobuf::Message* response,
                       const CallOptions& options) override;
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
      const MethodInfo& method, const CallOptions& options) override;
  bool Available() const override;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  GrpcTransport(std::string target, std::shared_ptr<grpc::Channel> channel,
                ClientConfig config);
  // Stable RpcMethod objects, one per method path and kind.
  const grpc::internal::RpcMethod& RpcMethodFor(const MethodInfo& method);
  // INVALID_ARGUMENT for metadata gRPC cannot carry (it would abort the process).
  absl::Status PrepareContext(grpc::ClientContext* context, const CallOptions& options) const;

  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  ClientConfig config_;
  absl::Mutex methods_mu_;
  absl::node_hash_map<std::string, std::unique_ptr<grpc::internal::RpcMethod>> methods_
      ABSL_GUARDED_BY(methods_mu_);
};

}  // namespace kei
