#include "cc/http/http_router.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/http/http_context.h"

namespace kei::http {
namespace {

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "application/json");
  response.body = std::move(body);
  return response;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpRouter>> HttpRouter::Create(const Dispatcher& dispatcher,
                                                               size_t max_message_bytes,
                                                               std::function<bool()> ready) {
  auto rest = RestHandler::Create(dispatcher);
  if (!rest.ok()) return rest.status();
  return std::unique_ptr<HttpRouter>(new HttpRouter(
      ConnectHandler(dispatcher, max_message_bytes), *std::move(rest), std::move(ready)));
}

void HttpRouter::Mount(std::string path, bool prefix,
                       std::function<HttpResult(HttpRequest)> handler) {
  mounts_.push_back(MountPoint{std::move(path), prefix, std::move(handler)});
}

HttpResult HttpRouter::Route(HttpRequest request) const {
  for (const MountPoint& mount : mounts_) {
    if (request.path == mount.path ||
        (mount.prefix && absl::StartsWith(request.path, mount.path) &&
         request.path.size() > mount.path.size() && request.path[mount.path.size()] == '/')) {
      return mount.handler(std::move(request));
    }
  }
  if (request.method == "GET" || request.method == "HEAD") {
    if (request.path == "/healthz") {
      return HttpResult::Respond(JsonResponse(200, R"({"status":"ok"})"));
    }
    if (request.path == "/readyz") {
      bool ready = ready_ && ready_();
      return HttpResult::Respond(ready ? JsonResponse(200, R"({"status":"SERVING"})")
                                       : JsonResponse(503, R"({"status":"NOT_SERVING"})"));
    }
  }
  if (const MethodHandler* method = connect_.FindMethod(request.path)) {
    return connect_.Handle(*method, std::move(request));
  }
  if (auto result = rest_->Handle(request)) return std::move(*result);
  // "/pkg.Service/Method" is a Connect procedure the server does not have.
  absl::string_view path = request.path;
  auto slash = path.find('/', 1);
  bool procedure_shaped = path.size() > 1 && slash != absl::string_view::npos &&
                          path.find('/', slash + 1) == absl::string_view::npos &&
                          path.substr(1, slash - 1).find('.') != absl::string_view::npos;
  HttpResponse response = ErrorResponse(
      procedure_shaped
          ? absl::UnimplementedError(absl::StrCat("unknown procedure ", path.substr(0, 256)))
          : absl::NotFoundError(absl::StrCat("no route for ", request.method, " ",
                                             path.substr(0, 256))));
  response.status = 404;
  return HttpResult::Respond(std::move(response));
}

}  // namespace kei::http
