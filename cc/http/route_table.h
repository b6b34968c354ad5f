// The REST routes of every registered method, read from the kit's kei.v1.http
// annotations (and their additional_bindings) and checked against the request
// and response types once, at startup; then, per request, the route a verb and
// path select. Filling the request is rest_transcoder.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/dispatch/handler_registry.h"
#include "cc/dispatch/method_handler.h"
#include "cc/http/path_template.h"
#include "google/protobuf/descriptor.h"

namespace kei::http {

struct RestRoute {
  // "GET", "POST", ... or a custom verb, as written.
  std::string verb;
  PathTemplate path;
  const MethodHandler* method = nullptr;
  // "*", a top-level request field, or empty (no body).
  std::string body;
  // A top-level response field, or empty (the whole response).
  std::string response_body;
  // Resolved `body` (null for "*" and empty) and `response_body` (null if empty).
  const google::protobuf::FieldDescriptor* body_field = nullptr;
  const google::protobuf::FieldDescriptor* response_body_field = nullptr;
  // 0 for the method's own rule, i for its i-th additional binding.
  int binding = 0;

  // "GET /v1/{name=shelves/*} (kei.test.v1.Svc/Method)", for messages and logs.
  std::string Describe() const;
};

class RouteTable {
 public:
  // Routes from every handler whose method has kei.v1.http. INVALID_ARGUMENT,
  // naming the method and the template, for: a rule without a verb and path, a
  // malformed template, a variable naming no field or a repeated, map or
  // message field, a body or response_body naming no top-level field, a body
  // field also bound by the path, nested additional_bindings, client- or
  // bidi-streaming methods (REST has no way to carry them), and two routes with
  // the same verb and template shape (e.g. "/v1/{a}" and "/v1/{b}").
  static absl::StatusOr<RouteTable> Build(const HandlerRegistry& registry);
  static absl::StatusOr<RouteTable> Build(const std::vector<const MethodHandler*>& handlers);

  struct Match {
    const RestRoute* route = nullptr;
    PathBindings bindings;
  };

  // The route for `verb` (case-sensitive) and `path`; anything from '?' on is
  // ignored. A path ending in ":<v>", where <v> is the `:verb` of some route,
  // only matches templates with that verb (as Envoy's transcoder: with a
  // route "/v1/{name=books/*}:cancel", "/v1/books/1:cancel" is never the book
  // "books/1:cancel"); any other ':' is part of the segment. When several
  // templates match, the most specific wins: more literal segments (a `:verb`
  // counts as one), then no `**`, then more segments, then declaration order.
  // nullopt when no route with this verb matches; then, if `allowed` is not
  // null, it is set to the verbs whose routes do match the path (sorted; empty
  // if none: a 404 rather than a 405).
  std::optional<Match> Find(absl::string_view verb, absl::string_view path,
                            std::vector<std::string>* allowed) const;

  // Every route, most specific first (the order Find tries them in).
  const std::vector<RestRoute>& routes() const { return routes_; }

 private:
  std::vector<RestRoute> routes_;
  // The `:verb`s of the routes' templates.
  std::vector<std::string> template_verbs_;
};

}  // namespace kei::http
