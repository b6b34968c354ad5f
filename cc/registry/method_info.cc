#include "cc/registry/method_info.h"

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace kei {

absl::string_view StreamKindName(StreamKind kind) {
  switch (kind) {
    case StreamKind::kUnary: return "unary";
    case StreamKind::kServerStreaming: return "server_streaming";
    case StreamKind::kClientStreaming: return "client_streaming";
    case StreamKind::kBidiStreaming: return "bidi_streaming";
  }
  return "unary";
}

MethodInfo MethodInfo::FromDescriptor(const google::protobuf::MethodDescriptor* method) {
  MethodInfo info;
  info.descriptor = method;
  info.service_name = method->service()->full_name();
  info.method_name = method->name();
  info.full_name = absl::StrCat(info.service_name, "/", info.method_name);
  info.path = absl::StrCat("/", info.full_name);
  if (method->client_streaming() && method->server_streaming()) {
    info.kind = StreamKind::kBidiStreaming;
  } else if (method->client_streaming()) {
    info.kind = StreamKind::kClientStreaming;
  } else if (method->server_streaming()) {
    info.kind = StreamKind::kServerStreaming;
  }
  auto level = method->options().idempotency_level();
  info.side_effect_free = level == google::protobuf::MethodOptions::NO_SIDE_EFFECTS;
  info.idempotent =
      info.side_effect_free || level == google::protobuf::MethodOptions::IDEMPOTENT;
  return info;
}

std::string CanonicalMethodName(absl::string_view name) {
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (name.empty()) return "";
  auto slash = name.find('/');
  if (slash != absl::string_view::npos) {
    if (slash == 0 || slash + 1 == name.size() ||
        name.find('/', slash + 1) != absl::string_view::npos) {
      return "";
    }
    return std::string(name);
  }
  auto dot = name.rfind('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 1 == name.size()) return "";
  return absl::StrCat(name.substr(0, dot), "/", name.substr(dot + 1));
}

}  // namespace kei
