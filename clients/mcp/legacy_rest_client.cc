// The original KEI MCP REST tool API, client side (see legacy_rest_client.h).
#include "clients/mcp/legacy_rest_client.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "cc/http/connect_wire.h"

namespace kei::mcp {
namespace {

// A tool name as one path segment.
std::string EscapeSegment(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LegacyRestClient>> LegacyRestClient::Create(
    std::string base, http::HttpClientOptions options) {
  auto client = http::HttpClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  while (!base.empty() && base.back() == '/') base.pop_back();
  return std::unique_ptr<LegacyRestClient>(
      new LegacyRestClient(std::move(base), *std::move(client)));
}

absl::StatusOr<Json> LegacyRestClient::Call(absl::string_view method, absl::string_view path,
                                            std::string body, absl::Duration timeout) {
  http::HttpRequest request;
  request.method = std::string(method);
  request.url = absl::StrCat(base_, "/api/v1/mcp", path);
  request.body = std::move(body);
  request.headers.emplace("accept", "application/json");
  if (!request.body.empty()) request.headers.emplace("content-type", "application/json");
  request.options.timeout = timeout;
  request.options.parse_json = false;
  auto response = client_->Request(request);
  if (!response.ok()) return response.status();
  if (!response->ok()) return connect::ParseErrorBody(response->status, response->body);
  auto json = ParseJsonText(response->body);
  if (!json.ok()) {
    return absl::InternalError(
        absl::StrCat("the KEI REST tool API answered with invalid JSON: ", json.status().message()));
  }
  return json;
}

absl::StatusOr<std::vector<Json>> LegacyRestClient::ListTools(absl::Duration timeout) {
  auto body = Call("GET", "/tools", "", timeout);
  if (!body.ok()) return body.status();
  std::vector<Json> tools;
  if (body->is_object() && body->contains("tools") && (*body)["tools"].is_array()) {
    for (auto& tool : (*body)["tools"]) tools.push_back(tool);
  }
  return tools;
}

absl::StatusOr<Json> LegacyRestClient::GetToolSchema(absl::string_view name,
                                                     absl::Duration timeout) {
  return Call("GET", absl::StrCat("/tools/", EscapeSegment(name), "/schema"), "", timeout);
}

absl::StatusOr<Json> LegacyRestClient::CallTool(absl::string_view name, const Json& arguments,
                                                absl::Duration timeout) {
  Json body = {{"arguments", arguments.is_null() ? Json::object() : arguments}};
  return Call("POST", absl::StrCat("/tools/", EscapeSegment(name), "/execute"), DumpJson(body),
              timeout);
}

absl::StatusOr<Json> LegacyRestClient::Info(absl::Duration timeout) {
  return Call("GET", "/info", "", timeout);
}

absl::StatusOr<Json> LegacyRestClient::Health(absl::Duration timeout) {
  auto body = Call("GET", "/health", "", timeout);
  if (!body.ok()) return body.status();
  auto status = body->is_object() ? body->find("status") : body->end();
  if (status == body->end() || *status != "ok") {
    return absl::UnavailableError(absl::StrCat("the KEI REST tool API is not healthy: ",
                                               DumpJson(*body)));
  }
  return body;
}

}  // namespace kei::mcp
