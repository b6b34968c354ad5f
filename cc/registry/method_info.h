// What every layer needs to know about a method, derived once from its
// descriptor: names in each spelling, stream kind and retry safety.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace kei {

enum class StreamKind { kUnary, kServerStreaming, kClientStreaming, kBidiStreaming };

absl::string_view StreamKindName(StreamKind kind);

struct MethodInfo {
  // "kei.agent.v1.AgentService/Plan", the kit's canonical method name.
  std::string full_name;
  // "/kei.agent.v1.AgentService/Plan", the gRPC and Connect path.
  std::string path;
  // "kei.agent.v1.AgentService"
  std::string service_name;
  // "Plan"
  std::string method_name;
  StreamKind kind = StreamKind::kUnary;
  // idempotency_level is IDEMPOTENT or NO_SIDE_EFFECTS: safe to retry.
  bool idempotent = false;
  // idempotency_level is NO_SIDE_EFFECTS: may be called with HTTP GET.
  bool side_effect_free = false;
  const google::protobuf::MethodDescriptor* descriptor = nullptr;

  static MethodInfo FromDescriptor(const google::protobuf::MethodDescriptor* method);
};

// Accepts "pkg.Service/Method", "/pkg.Service/Method" and "pkg.Service.Method",
// and returns the canonical "pkg.Service/Method"; empty if it is none of these.
std::string CanonicalMethodName(absl::string_view name);

}  // namespace kei
