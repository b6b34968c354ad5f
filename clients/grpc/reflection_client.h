// A client of gRPC server reflection (grpc.reflection.v1alpha): lists a
// server's services and loads the descriptors of any symbol into a
// DescriptorRegistry, so generic tools can call methods they were not built
// with. It runs over the kit's own Transport, like any other method.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/transport.h"

namespace kei {

class ReflectionClient {
 public:
  explicit ReflectionClient(std::shared_ptr<Transport> transport)
      : transport_(std::move(transport)) {}

  absl::StatusOr<std::vector<std::string>> ListServices(const CallOptions& options = {});
  // Loads the file defining `symbol` (a service, method or message full name)
  // and its dependencies into `registry`.
  absl::Status LoadSymbol(absl::string_view symbol, DescriptorRegistry& registry,
                          const CallOptions& options = {});

 private:
  // One request/response exchange, as JSON objects (proto3 JSON mapping).
  absl::StatusOr<std::string> Exchange(const std::string& request_json,
                                       const CallOptions& options);
  std::shared_ptr<Transport> transport_;
};

}  // namespace kei
