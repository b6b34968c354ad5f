#include "cc/http/rest_handler.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/codec/codec.h"
#include "cc/http/connect_wire.h"
#include "cc/http/http_context.h"
#include "cc/http/rest_transcoder.h"
#include "cc/status/http_mapping.h"

namespace kei::http {
namespace {

using Bindings = PathBindings;

// The REST translation as a Codec, so the Dispatcher decodes a request only
// after its interceptors admitted the caller, as for every protocol.
class TranscodingCodec final : public Codec {
 public:
  TranscodingCodec(const RestRoute& route, const Bindings& bindings, absl::string_view query)
      : route_(route), bindings_(bindings), query_(query) {}
  absl::string_view name() const override { return "json"; }
  absl::Status Marshal(const google::protobuf::Message& message, std::string* out) const override {
    auto json = TranscodeResponse(route_, message);
    if (!json.ok()) return json.status();
    *out = *std::move(json);
    return absl::OkStatus();
  }
  absl::Status Unmarshal(absl::string_view body, google::protobuf::Message* message) const override {
    return TranscodeRequest(route_, bindings_, query_, body, message);
  }

 private:
  const RestRoute& route_;
  const Bindings& bindings_;
  absl::string_view query_;
};

// Streams responses as SSE events or NDJSON lines; starts the HTTP response
// lazily so a call that fails before its first message still gets a proper
// error status.
class RestStream final : public StreamIO {
 public:
  RestStream(const TranscodingCodec& codec, std::string body, bool sse, ResponseWriter& writer)
      : codec_(codec), body_(std::move(body)), sse_(sse), writer_(writer) {}

  bool Read(google::protobuf::Message* message) override {
    if (read_) return false;
    read_ = true;
    decode_status_ = codec_.Unmarshal(body_, message);
    return decode_status_.ok();
  }
  bool Write(const google::protobuf::Message& message) override {
    std::string json;
    if (!codec_.Marshal(message, &json).ok()) return false;
    return Send(sse_ ? absl::StrCat("data: ", json, "\n\n") : absl::StrCat(json, "\n"));
  }
  // Ends the stream with `status`.
  void Finish(const absl::Status& status) {
    if (!started_) {
      if (status.ok()) {
        Start();
        return;
      }
      HttpResponse error = ErrorResponse(status);
      if (writer_.Start(error.status, error.headers)) writer_.Write(error.body);
      return;
    }
    if (status.ok() || gone_) return;
    std::string error = connect::ErrorJson(status);
    Send(sse_ ? absl::StrCat("event: error\ndata: ", error, "\n\n")
              : absl::StrCat(R"({"error":)", error, "}\n"));
  }
  const absl::Status& decode_status() const { return decode_status_; }

 private:
  bool Start() {
    started_ = true;
    HeaderList headers = {
        {"content-type", sse_ ? "text/event-stream" : "application/x-ndjson"},
        {"cache-control", "no-cache"}};
    if (!writer_.Start(200, headers)) gone_ = true;
    return !gone_;
  }
  bool Send(const std::string& data) {
    if (gone_) return false;
    if (!started_ && !Start()) return false;
    if (!writer_.Write(data)) gone_ = true;
    return !gone_;
  }

  const TranscodingCodec& codec_;
  std::string body_;
  bool sse_;
  ResponseWriter& writer_;
  bool read_ = false;
  bool started_ = false;
  bool gone_ = false;
  absl::Status decode_status_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RestHandler>> RestHandler::Create(const Dispatcher& dispatcher) {
  auto routes = RouteTable::Build(dispatcher.registry());
  if (!routes.ok()) return routes.status();
  return std::unique_ptr<RestHandler>(new RestHandler(dispatcher, *std::move(routes)));
}

std::optional<HttpResult> RestHandler::Handle(HttpRequest& request) const {
  std::vector<std::string> allowed;
  auto match = routes_.Find(request.method, request.path, &allowed);
  if (!match) {
    if (allowed.empty()) return std::nullopt;
    HttpResponse response = ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
        request.method, " is not allowed on ", request.path.substr(0, 256), "; use ",
        absl::StrJoin(allowed, " or "))));
    response.status = 405;
    response.headers.emplace_back("allow", absl::StrJoin(allowed, ", "));
    return HttpResult::Respond(std::move(response));
  }
  const RestRoute& route = *match->route;
  switch (route.method->info.kind) {
    case StreamKind::kUnary:
      return Unary(route, std::move(*match), request);
    case StreamKind::kServerStreaming:
      return ServerStream(route, std::move(*match), request);
    default:
      return HttpResult::Respond(ErrorResponse(absl::UnimplementedError(absl::StrCat(
          route.method->info.full_name,
          " streams requests; call it over Connect, gRPC or WebSocket"))));
  }
}

HttpResult RestHandler::Unary(const RestRoute& route, RouteTable::Match match,
                              HttpRequest& request) const {
  Context context;
  if (auto s = InitContext(request, &context); !s.ok()) return HttpResult::Respond(ErrorResponse(s));
  TranscodingCodec codec(route, match.bindings, request.query);
  std::string out;
  absl::Status status =
      dispatcher_.UnaryEncoded(*route.method, context, codec, request.body, &out);
  HttpResponse response;
  if (status.ok()) {
    response.headers.emplace_back("content-type", "application/json");
    response.body = std::move(out);
  } else {
    response = ErrorResponse(status);
  }
  AppendResponseMetadata(context, "", &response.headers);
  return HttpResult::Respond(std::move(response));
}

HttpResult RestHandler::ServerStream(const RestRoute& route, RouteTable::Match match,
                                     HttpRequest& request) const {
  bool sse = absl::StrContains(request.header("accept"), "text/event-stream");
  auto shared = std::make_shared<HttpRequest>(std::move(request));
  auto bindings = std::make_shared<Bindings>(std::move(match.bindings));
  return HttpResult::Stream([this, &route, shared, bindings, sse](ResponseWriter& writer) {
    Context context;
    absl::Status status = InitContext(*shared, &context);
    TranscodingCodec codec(route, *bindings, shared->query);
    RestStream io(codec, std::move(shared->body), sse, writer);
    if (status.ok()) {
      status = dispatcher_.Stream(*route.method, context, io);
      if (!io.decode_status().ok()) status = io.decode_status();
    }
    io.Finish(status);
  });
}

}  // namespace kei::http
