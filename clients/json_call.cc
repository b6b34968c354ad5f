#include "clients/json_call.h"

#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "clients/unary_invoker.h"

namespace kei {

absl::StatusOr<std::string> CallUnaryJson(Transport& transport,
                                          const DescriptorRegistry& registry,
                                          absl::string_view method_name,
                                          absl::string_view json,
                                          const CallOptions& options,
                                          const RetryPolicy& policy) {
  auto method = registry.FindMethod(method_name);
  if (!method.ok()) return method.status();
  if (method->kind != StreamKind::kUnary) {
    return absl::InvalidArgumentError(
        absl::StrCat(method->full_name, " is ", StreamKindName(method->kind),
                     ", not unary"));
  }
  auto request = registry.NewMessage(method->descriptor->input_type());
  auto response = registry.NewMessage(method->descriptor->output_type());
  JsonCodecOptions strict;
  strict.reject_unknown_fields = true;
  if (auto s = JsonCodec(strict).Unmarshal(json, request.get()); !s.ok()) return s;
  if (auto s = InvokeUnary(transport, *method, *request, response.get(), options, policy);
      !s.ok()) {
    return s;
  }
  std::string out;
  if (auto s = JsonCodec().Marshal(*response, &out); !s.ok()) return s;
  return out;
}

}  // namespace kei
