#include "cc/http/http_context.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cc/dispatch/limits_interceptor.h"
#include "cc/http/connect_wire.h"
#include "cc/status/http_mapping.h"

namespace kei::http {

absl::Status InitContext(HttpRequest& request, Context* context) {
  context->set_protocol("http");
  context->set_peer(std::move(request.peer));
  context->set_cancellation(request.cancellation);
  if (request.transport_identity.authenticated()) {
    context->set_transport_identity(request.transport_identity);
  }
  absl::string_view timeout = request.header(connect::kTimeoutHeader);
  absl::Status status;
  if (!timeout.empty()) {
    auto parsed = connect::ParseTimeout(timeout);
    if (parsed.ok()) {
      context->set_deadline(absl::Now() + *parsed);
    } else {
      status = parsed.status();
    }
  }
  context->mutable_metadata() = std::move(request.headers);
  request.headers.clear();
  return status;
}

void AppendResponseMetadata(const Context& context, absl::string_view prefix,
                            HeaderList* headers) {
  for (const auto& [key, value] : context.response_metadata()) {
    headers->emplace_back(absl::StrCat(prefix, key), value);
    if (key == kRetryPushbackKey) {
      int64_t ms = 0;
      if (absl::SimpleAtoi(value, &ms) && ms >= 0) {
        headers->emplace_back("retry-after", absl::StrCat((ms + 999) / 1000));
      }
    }
  }
}

HttpResponse ErrorResponse(const absl::Status& status) {
  HttpResponse response;
  response.status = HttpStatusFromCode(status.code());
  response.headers.emplace_back("content-type", "application/json");
  response.body = connect::ErrorJson(status);
  return response;
}

}  // namespace kei::http
