#include "cc/mcp/legacy_rest.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cc/http/http_context.h"
#include "cc/http/url_encoding.h"
#include "cc/mcp/streamable_http.h"

namespace kei::mcp {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::HttpResult;

HttpResult JsonResult(int status, const Json& body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "application/json");
  response.body = DumpJson(body);
  return HttpResult::Respond(std::move(response));
}

HttpResult Error(const absl::Status& status) {
  return HttpResult::Respond(http::ErrorResponse(status));
}

Json ToolSummary(const Tool& tool) {
  Json out{{"name", tool.name}, {"description", tool.description}, {"inputSchema", tool.input_schema}};
  if (!tool.title.empty()) out["title"] = tool.title;
  if (!tool.output_schema.is_null()) out["outputSchema"] = tool.output_schema;
  if (!tool.annotations.is_null()) out["annotations"] = tool.annotations;
  return out;
}

}  // namespace

HttpResult LegacyRest::Handle(HttpRequest request) const {
  if (absl::Status admitted = AdmitMcpRequest(dispatcher_, request); !admitted.ok()) {
    return Error(admitted);
  }
  absl::string_view path = request.path;
  absl::ConsumePrefix(&path, kLegacyRestPrefix);
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (path == "/health" && get) {
    return JsonResult(200, Json{{"status", "ok"}, {"tools", server_->tools().size()}});
  }
  if (path == "/info" && get) {
    Json info = server_->ServerInfo();
    info["tools"] = server_->tools().size();
    return JsonResult(200, info);
  }
  if (path == "/tools" && get) {
    Json tools = Json::array();
    for (const Tool& tool : server_->tools()) tools.push_back(ToolSummary(tool));
    return JsonResult(200, Json{{"tools", std::move(tools)}});
  }
  if (absl::ConsumePrefix(&path, "/tools/")) {
    bool schema = absl::ConsumeSuffix(&path, "/schema");
    bool execute = !schema && absl::ConsumeSuffix(&path, "/execute");
    std::optional<std::string> decoded = http::PercentDecode(path, false);
    if (!decoded) return Error(absl::InvalidArgumentError("malformed percent-encoding in the tool name"));
    std::string name = *std::move(decoded);
    if (schema && get) {
      std::shared_ptr<const Tool> tool = server_->FindTool(name);
      if (!tool) return Error(absl::NotFoundError(absl::StrCat("unknown tool ", name.substr(0, 128))));
      Json out{{"name", tool->name}, {"inputSchema", tool->input_schema}};
      if (!tool->output_schema.is_null()) out["outputSchema"] = tool->output_schema;
      return JsonResult(200, out);
    }
    if (execute && request.method == "POST") {
      Json arguments = Json::object();
      if (!request.body.empty()) {
        auto body = ParseJsonText(request.body);
        if (!body.ok()) return Error(body.status());
        if (!body->is_object()) return Error(absl::InvalidArgumentError("the body must be a JSON object"));
        // {"arguments": {...}} (or "parameters"), or the arguments themselves.
        if (auto it = body->find("arguments"); it != body->end()) {
          arguments = *it;
        } else if (auto p = body->find("parameters"); p != body->end()) {
          arguments = *p;
        } else {
          arguments = *std::move(body);
        }
      }
      Context call;
      if (absl::Status s = http::InitContext(request, &call); !s.ok()) return Error(s);
      call.set_protocol("mcp");
      absl::StatusOr<ToolResult> result = server_->CallTool(name, arguments, call);
      if (!result.ok()) return Error(result.status());
      return JsonResult(200, std::move(*result).ToJson());
    }
  }
  HttpResponse response = http::ErrorResponse(absl::NotFoundError(
      absl::StrCat("no route for ", request.method, " ", request.path.substr(0, 256))));
  response.status = 404;
  return HttpResult::Respond(std::move(response));
}

}  // namespace kei::mcp
