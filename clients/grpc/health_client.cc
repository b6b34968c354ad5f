#include "clients/grpc/health_client.h"

#include "absl/strings/str_cat.h"
#include "cc/registry/descriptor_registry.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/text_format.h"

namespace kei {
namespace {

// The wire contract of grpc.health.v1, as a descriptor.
constexpr char kHealthProto[] = R"pb(
  name: "kei/internal/grpc_health_v1.proto"
  package: "grpc.health.v1"
  syntax: "proto3"
  message_type {
    name: "HealthCheckRequest"
    field { name: "service" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "service" }
  }
  message_type {
    name: "HealthCheckResponse"
    field {
      name: "status" number: 1 label: LABEL_OPTIONAL type: TYPE_ENUM
      type_name: ".grpc.health.v1.HealthCheckResponse.ServingStatus" json_name: "status"
    }
    enum_type {
      name: "ServingStatus"
      value { name: "UNKNOWN" number: 0 }
      value { name: "SERVING" number: 1 }
      value { name: "NOT_SERVING" number: 2 }
      value { name: "SERVICE_UNKNOWN" number: 3 }
    }
  }
  service {
    name: "Health"
    method {
      name: "Check"
      input_type: ".grpc.health.v1.HealthCheckRequest"
      output_type: ".grpc.health.v1.HealthCheckResponse"
    }
  }
)pb";

const DescriptorRegistry& HealthRegistry() {
  static DescriptorRegistry* registry = [] {
    auto* r = new DescriptorRegistry();
    google::protobuf::FileDescriptorSet set;
    google::protobuf::TextFormat::ParseFromString(kHealthProto, set.add_file());
    (void)r->AddFileDescriptorSet(set);
    return r;
  }();
  return *registry;
}

}  // namespace

absl::StatusOr<std::string> CheckHealth(Transport& transport, const std::string& service,
                                        const CallOptions& options) {
  const DescriptorRegistry& registry = HealthRegistry();
  auto method = registry.FindMethod("grpc.health.v1.Health/Check");
  if (!method.ok()) return method.status();
  auto request = registry.NewMessage(method->descriptor->input_type());
  auto response = registry.NewMessage(method->descriptor->output_type());
  const auto* service_field = request->GetDescriptor()->FindFieldByName("service");
  request->GetReflection()->SetString(request.get(), service_field, service);
  AttemptOutcome outcome = transport.Unary(*method, *request, response.get(), options);
  if (!outcome.status.ok()) return outcome.status;
  const auto* status_field = response->GetDescriptor()->FindFieldByName("status");
  return response->GetReflection()->GetEnum(*response, status_field)->name();
}

}  // namespace kei
