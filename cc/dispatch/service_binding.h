// What protoc-gen-kei generates for each service: its registry entries and a
// factory for its gRPC glue. kei::Server::AddService takes one of these.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "cc/dispatch/method_handler.h"
#include "google/protobuf/descriptor.h"

namespace grpc {
class Service;
}

namespace kei {

class Dispatcher;

struct ServiceBinding {
  const google::protobuf::ServiceDescriptor* descriptor = nullptr;
  std::vector<MethodHandler> methods;
  // Builds the gRPC service (callback API) that forwards every method into
  // `dispatcher`; called once when the server starts.
  std::function<std::unique_ptr<grpc::Service>(const Dispatcher& dispatcher)> grpc_service;
  // Keeps the implementation alive as long as the binding.
  std::shared_ptr<void> implementation;
};

}  // namespace kei
