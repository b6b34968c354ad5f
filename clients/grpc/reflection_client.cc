#include "clients/grpc/reflection_client.h"

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"

namespace kei {
namespace {

constexpr char kReflectionMethod[] =
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

}  // namespace

absl::StatusOr<std::string> ReflectionClient::Exchange(const std::string& request_json,
                                                       const CallOptions& options) {
  // Referencing the plugin keeps libgrpc++_reflection, which carries the
  // reflection messages' descriptors, linked in.
  static const bool linked = [] {
    (void)&grpc::reflection::InitProtoReflectionServerBuilderPlugin;
    return true;
  }();
  (void)linked;
  const DescriptorRegistry& registry = DescriptorRegistry::Default();
  auto method = registry.FindMethod(kReflectionMethod);
  if (!method.ok()) return method.status();
  auto request = registry.NewMessage(method->descriptor->input_type());
  auto response = registry.NewMessage(method->descriptor->output_type());
  JsonCodec json;
  if (auto s = json.Unmarshal(request_json, request.get()); !s.ok()) return s;
  auto stream = transport_->OpenStream(*method, options);
  if (!stream.ok()) return stream.status();
  (*stream)->Write(*request);
  (*stream)->CloseSend();
  bool got = (*stream)->Read(response.get());
  if (got) {
    // One request gets one response; drain anything further before Finish.
    auto extra = registry.NewMessage(method->descriptor->output_type());
    while ((*stream)->Read(extra.get())) {
    }
  }
  absl::Status status = (*stream)->Finish();
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("server reflection: ", status.message()));
  }
  if (!got) return absl::UnavailableError("server reflection: empty response");
  std::string out;
  if (auto s = json.Marshal(*response, &out); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<std::string>> ReflectionClient::ListServices(
    const CallOptions& options) {
  auto text = Exchange(R"({"listServices": ""})", options);
  if (!text.ok()) return text.status();
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.contains("errorResponse")) {
    return absl::UnknownError(doc["errorResponse"].value("errorMessage", "reflection error"));
  }
  std::vector<std::string> services;
  for (const auto& s : doc["listServicesResponse"]["service"]) {
    services.push_back(s.value("name", ""));
  }
  return services;
}

absl::Status ReflectionClient::LoadSymbol(absl::string_view symbol,
                                          DescriptorRegistry& registry,
                                          const CallOptions& options) {
  nlohmann::json request = {{"fileContainingSymbol", std::string(symbol)}};
  auto text = Exchange(request.dump(), options);
  if (!text.ok()) return text.status();
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.contains("errorResponse")) {
    return absl::NotFoundError(absl::StrCat(
        "server reflection does not know ", symbol, ": ",
        doc["errorResponse"].value("errorMessage", "")));
  }
  google::protobuf::FileDescriptorSet set;
  for (const auto& encoded : doc["fileDescriptorResponse"]["fileDescriptorProto"]) {
    std::string bytes;
    if (!absl::Base64Unescape(encoded.get<std::string>(), &bytes) ||
        !set.add_file()->ParseFromString(bytes)) {
      return absl::DataLossError("server reflection sent a malformed descriptor");
    }
  }
  return registry.AddFileDescriptorSet(set);
}

}  // namespace kei
