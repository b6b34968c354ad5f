// REST routes from the kit's HTTP annotations: matches the route, translates
// the request (path variables, body, query) into the method's request message,
// runs it through the Dispatcher like every other protocol, and translates the
// response to JSON. Server-streaming routes answer as Server-Sent Events when
// the client accepts text/event-stream, otherwise as newline-delimited JSON.
#pragma once

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/http/http_message.h"
#include "cc/http/route_table.h"

namespace kei::http {

class RestHandler {
 public:
  // Fails when an annotation is invalid (bad template, unknown field).
  static absl::StatusOr<std::unique_ptr<RestHandler>> Create(const Dispatcher& dispatcher);

  // nullopt when no route's path matches; a 405 when the path matches another verb.
  std::optional<HttpResult> Handle(HttpRequest& request) const;

  const RouteTable& routes() const { return routes_; }

 private:
  RestHandler(const Dispatcher& dispatcher, RouteTable routes)
      : dispatcher_(dispatcher), routes_(std::move(routes)) {}

  HttpResult Unary(const RestRoute& route, RouteTable::Match match, HttpRequest& request) const;
  HttpResult ServerStream(const RestRoute& route, RouteTable::Match match,
                          HttpRequest& request) const;

  const Dispatcher& dispatcher_;
  RouteTable routes_;
};

}  // namespace kei::http
