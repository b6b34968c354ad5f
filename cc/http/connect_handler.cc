#include "cc/http/connect_handler.h"

#include <deque>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/http/connect_wire.h"
#include "cc/http/http_context.h"
#include "cc/http/url_encoding.h"

namespace kei::http {
namespace {

const Codec* CodecNamed(absl::string_view name) {
  static const JsonCodec* json = new JsonCodec();
  static const ProtoCodec* proto = new ProtoCodec();
  if (name == "json") return json;
  if (name == "proto") return proto;
  return nullptr;
}

HttpResponse UnsupportedMediaType(absl::string_view content_type, bool streaming) {
  HttpResponse response = ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
      "unsupported content type '", content_type.substr(0, 64), "'; use ",
      streaming ? "application/connect+json or application/connect+proto"
                : "application/json or application/proto")));
  response.status = 415;
  response.headers.emplace_back(
      "accept-post", streaming ? "application/connect+json, application/connect+proto"
                               : "application/json, application/proto");
  return response;
}

// Checks what every Connect request may carry.
absl::Status CheckCommonHeaders(const HttpRequest& request) {
  absl::string_view version = request.header(connect::kProtocolVersionHeader);
  if (!version.empty() && version != "1") {
    return absl::InvalidArgumentError(
        absl::StrCat("connect-protocol-version must be 1, got '", version.substr(0, 16), "'"));
  }
  for (const char* header : {"content-encoding", "connect-content-encoding"}) {
    absl::string_view encoding = request.header(header);
    if (!encoding.empty() && encoding != "identity") {
      return absl::UnimplementedError(absl::StrCat(
          "compression '", encoding.substr(0, 32), "' is not supported; send identity"));
    }
  }
  return absl::OkStatus();
}

// A StreamIO over a request body of envelopes, writing response envelopes.
class EnvelopeStream final : public StreamIO {
 public:
  EnvelopeStream(const Codec& codec, std::deque<std::string> requests, ResponseWriter& writer)
      : codec_(codec), requests_(std::move(requests)), writer_(writer) {}

  bool Read(google::protobuf::Message* message) override {
    if (requests_.empty() || !decode_status_.ok()) return false;
    absl::Status s = codec_.Unmarshal(requests_.front(), message);
    requests_.pop_front();
    if (!s.ok()) {
      decode_status_ = s;
      return false;
    }
    return true;
  }
  bool Write(const google::protobuf::Message& message) override {
    if (gone_) return false;
    std::string payload, frame;
    if (!codec_.Marshal(message, &payload).ok()) return false;
    connect::AppendEnvelope(0, payload, &frame);
    if (!writer_.Write(frame)) gone_ = true;
    return !gone_;
  }
  const absl::Status& decode_status() const { return decode_status_; }
  bool gone() const { return gone_; }

 private:
  const Codec& codec_;
  std::deque<std::string> requests_;
  ResponseWriter& writer_;
  absl::Status decode_status_;
  bool gone_ = false;
};

}  // namespace

const MethodHandler* ConnectHandler::FindMethod(absl::string_view path) const {
  if (path.size() < 4 || path[0] != '/') return nullptr;
  return dispatcher_.registry().Find(path);
}

HttpResult ConnectHandler::Handle(const MethodHandler& method, HttpRequest request) const {
  if (auto s = CheckCommonHeaders(request); !s.ok()) return HttpResult::Respond(ErrorResponse(s));
  if (request.method == "GET") return Unary(method, std::move(request));
  if (request.method != "POST") {
    HttpResponse response = ErrorResponse(absl::InvalidArgumentError(
        absl::StrCat("method ", request.method, " not allowed; Connect uses POST",
                     method.info.side_effect_free ? " or GET" : "")));
    response.status = 405;
    response.headers.emplace_back("allow", method.info.side_effect_free ? "GET, POST" : "POST");
    return HttpResult::Respond(std::move(response));
  }
  absl::string_view content_type = request.header("content-type");
  auto parsed = connect::ParseContentType(content_type);
  bool wants_streaming = method.info.kind != StreamKind::kUnary;
  if (!parsed || parsed->streaming != wants_streaming || CodecNamed(parsed->codec) == nullptr) {
    return HttpResult::Respond(UnsupportedMediaType(content_type, wants_streaming));
  }
  if (wants_streaming) return Streaming(method, std::move(request), parsed->codec);
  return Unary(method, std::move(request));
}

HttpResult ConnectHandler::Unary(const MethodHandler& method, HttpRequest request) const {
  if (method.info.kind != StreamKind::kUnary) {
    return HttpResult::Respond(UnsupportedMediaType(request.header("content-type"), true));
  }
  std::string codec_name;
  std::string body;
  if (request.method == "GET") {
    if (!method.info.side_effect_free) {
      HttpResponse response = ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
          method.info.full_name, " has side effects; call it with POST")));
      response.status = 405;
      response.headers.emplace_back("allow", "POST");
      return HttpResult::Respond(std::move(response));
    }
    auto query = ParseQuery(request.query);
    if (!query) return HttpResult::Respond(ErrorResponse(absl::InvalidArgumentError("malformed query string")));
    bool base64 = false;
    bool has_message = false;
    for (const auto& [name, value] : *query) {
      if (name == "encoding") codec_name = value;
      else if (name == "message") { body = value; has_message = true; }
      else if (name == "base64") base64 = value == "1";
      else if (name == "compression" && !value.empty() && value != "identity") {
        return HttpResult::Respond(ErrorResponse(absl::UnimplementedError(
            absl::StrCat("compression '", value.substr(0, 32), "' is not supported"))));
      }
    }
    if (!has_message) codec_name = codec_name.empty() ? "json" : codec_name;
    if (base64) {
      std::string decoded;
      if (!absl::WebSafeBase64Unescape(body, &decoded) && !absl::Base64Unescape(body, &decoded)) {
        return HttpResult::Respond(ErrorResponse(absl::InvalidArgumentError("message: malformed base64")));
      }
      body = std::move(decoded);
    }
    if (CodecNamed(codec_name) == nullptr) {
      HttpResponse response = UnsupportedMediaType(absl::StrCat("encoding=", codec_name), false);
      return HttpResult::Respond(std::move(response));
    }
  } else {
    codec_name = connect::ParseContentType(request.header("content-type"))->codec;
    body = std::move(request.body);
  }
  const Codec& codec = *CodecNamed(codec_name);
  Context context;
  if (auto s = InitContext(request, &context); !s.ok()) return HttpResult::Respond(ErrorResponse(s));
  std::string out;
  absl::Status status = dispatcher_.UnaryEncoded(method, context, codec, body, &out);
  HttpResponse response;
  if (status.ok()) {
    response.headers.emplace_back("content-type", connect::UnaryContentType(codec_name));
    response.body = std::move(out);
  } else {
    response = ErrorResponse(status);
  }
  AppendResponseMetadata(context, "trailer-", &response.headers);
  return HttpResult::Respond(std::move(response));
}

HttpResult ConnectHandler::Streaming(const MethodHandler& method, HttpRequest request,
                                     const std::string& codec_name) const {
  std::deque<std::string> messages;
  connect::EnvelopeReader reader(request.body, max_message_bytes_);
  connect::EnvelopeReader::Envelope envelope;
  absl::Status framing;
  while (reader.Next(&envelope)) {
    if (envelope.flags & connect::kFlagCompressed) {
      framing = absl::UnimplementedError("compressed envelopes are not supported");
      break;
    }
    if (envelope.flags & connect::kFlagEndStream) break;
    messages.emplace_back(envelope.payload);
  }
  if (framing.ok()) framing = reader.status();
  if (framing.ok() && method.info.kind == StreamKind::kServerStreaming && messages.size() != 1) {
    framing = absl::InvalidArgumentError(absl::StrCat(
        method.info.full_name, " takes exactly one request message, got ", messages.size()));
  }
  auto shared = std::make_shared<HttpRequest>(std::move(request));
  shared->body.clear();
  return HttpResult::Stream([this, &method, shared, codec_name, framing,
                             messages = std::move(messages)](ResponseWriter& writer) mutable {
    const Codec& codec = *CodecNamed(codec_name);
    HeaderList headers = {{"content-type", connect::StreamingContentType(codec_name)}};
    Context context;
    absl::Status status = framing;
    if (status.ok()) status = InitContext(*shared, &context);
    if (!writer.Start(200, headers)) return;
    EnvelopeStream io(codec, std::move(messages), writer);
    if (status.ok()) {
      status = dispatcher_.Stream(method, context, io);
      if (!io.decode_status().ok()) status = io.decode_status();
    }
    if (io.gone()) return;
    std::string end;
    connect::AppendEnvelope(connect::kFlagEndStream,
                            connect::EndStreamJson(status, context.response_metadata()), &end);
    writer.Write(end);
  });
}

}  // namespace kei::http
