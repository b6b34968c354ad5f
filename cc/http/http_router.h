// Decides what answers an HTTP request: the health endpoints, a Connect
// procedure path, or a REST route from the kit's HTTP annotations; 404/405
// otherwise. Pure logic over HttpRequest/HttpResult, no sockets.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cc/dispatch/dispatcher.h"
#include "cc/http/connect_handler.h"
#include "cc/http/http_message.h"
#include "cc/http/rest_handler.h"

namespace kei::http {

class HttpRouter {
 public:
  // `ready` reports readiness for /readyz (the server's serving status).
  static absl::StatusOr<std::unique_ptr<HttpRouter>> Create(const Dispatcher& dispatcher,
                                                            size_t max_message_bytes,
                                                            std::function<bool()> ready);

  HttpResult Route(HttpRequest request) const;

  // Hands every request for `path` (and, with `prefix`, for paths under
  // "path/") to `handler` before any other route; for endpoints with a
  // protocol of their own (MCP). Call before serving.
  void Mount(std::string path, bool prefix, std::function<HttpResult(HttpRequest)> handler);

 private:
  HttpRouter(ConnectHandler connect, std::unique_ptr<RestHandler> rest,
             std::function<bool()> ready)
      : connect_(std::move(connect)), rest_(std::move(rest)), ready_(std::move(ready)) {}

  ConnectHandler connect_;
  std::unique_ptr<RestHandler> rest_;
  std::function<bool()> ready_;
  struct MountPoint {
    std::string path;
    bool prefix;
    std::function<HttpResult(HttpRequest)> handler;
  };
  std::vector<MountPoint> mounts_;
};

}  // namespace kei::http
