#include "clients/http/http_transport.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/http/connect_wire.h"

namespace kei {
namespace {

using google::protobuf::Message;

const Codec& CodecNamed(absl::string_view name) {
  static const ProtoCodec* proto = new ProtoCodec();
  static const JsonCodec* json = new JsonCodec();
  if (name == "json") return *json;
  return *proto;
}

absl::Time DeadlineFor(const CallOptions& options, const ClientConfig& config) {
  absl::Time deadline = options.EffectiveDeadline();
  if (deadline == absl::InfiniteFuture() && config.default_timeout != absl::InfiniteDuration()) {
    deadline = absl::Now() + config.default_timeout;
  }
  return deadline;
}

// The headers every Connect request carries: timeout, credentials and
// metadata. DEADLINE_EXCEEDED when the deadline has already passed.
absl::Status AddCallHeaders(const ClientConfig& config, const CallOptions& options,
                            absl::Time deadline, http::Headers* headers) {
  headers->emplace(connect::kProtocolVersionHeader, "1");
  if (deadline != absl::InfiniteFuture()) {
    absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("deadline exceeded before the call was sent");
    }
    int64_t ms = static_cast<int64_t>(std::ceil(absl::ToDoubleMilliseconds(remaining)));
    ms = std::clamp<int64_t>(ms, 1, 9'999'999'999);  // at most 10 digits
    headers->emplace(connect::kTimeoutHeader, absl::StrCat(ms));
  }
  if (!config.bearer_token.empty()) {
    headers->emplace("authorization", absl::StrCat("Bearer ", config.bearer_token));
  }
  if (!config.api_key.empty()) {
    headers->emplace(absl::AsciiStrToLower(config.api_key_header), config.api_key);
  }
  auto add = [&](const Metadata& metadata) {
    for (const auto& [key, value] : metadata) {
      std::string name = absl::AsciiStrToLower(key);
      // Binary metadata travels base64-encoded, as in gRPC.
      headers->emplace(name, absl::EndsWith(name, "-bin") ? absl::Base64Escape(value) : value);
    }
  };
  add(config.metadata);
  add(options.metadata);
  return absl::OkStatus();
}

std::optional<absl::Duration> PushbackFrom(const http::Headers& headers) {
  for (const char* name : {"grpc-retry-pushback-ms", "trailer-grpc-retry-pushback-ms"}) {
    auto it = headers.find(name);
    if (it == headers.end()) continue;
    int64_t ms = 0;
    if (!absl::SimpleAtoi(it->second, &ms)) return absl::Milliseconds(-1);
    return absl::Milliseconds(ms);
  }
  auto it = headers.find("retry-after");
  if (it != headers.end()) {
    auto delay = http::ParseRetryAfter(it->second);
    if (delay.has_value()) return delay;
  }
  return std::nullopt;
}

std::string ContentEncoding(const http::Headers& headers, absl::string_view name) {
  auto it = headers.find(name);
  if (it == headers.end()) return "";
  std::string value = absl::AsciiStrToLower(absl::StripAsciiWhitespace(it->second));
  return value == "identity" ? "" : value;
}

// Checks a success response's Content-Type against the codec and kind we asked for.
absl::Status CheckContentType(const http::Headers& headers, absl::string_view codec,
                              bool streaming) {
  auto it = headers.find("content-type");
  std::string got = it == headers.end() ? "" : it->second;
  auto parsed = connect::ParseContentType(got);
  if (!parsed.has_value() || parsed->codec != codec || parsed->streaming != streaming) {
    return absl::InternalError(absl::StrCat(
        "invalid content-type '", got, "' in the response; expecting '",
        streaming ? connect::StreamingContentType(codec) : connect::UnaryContentType(codec), "'"));
  }
  return absl::OkStatus();
}

// ---- Streams ------------------------------------------------------------------------

// A Connect stream over HTTP/1.1: writes are enveloped into one request body
// sent at CloseSend; reads parse envelopes from the response as it arrives.
class HttpClientStream final : public ClientStream {
 public:
  HttpClientStream(std::shared_ptr<http::HttpClient> client, MethodInfo method,
                   http::HttpRequest request, std::string codec, size_t max_message_bytes,
                   ClientConfig config, CallOptions options)
      : config_(std::move(config)),
        options_(std::move(options)),
        client_(std::move(client)),
        method_(std::move(method)),
        request_(std::move(request)),
        codec_(std::move(codec)),
        max_message_bytes_(max_message_bytes) {}

  bool Write(const Message& message) override {
    if (sent_ || done_) return false;
    bool single = method_.kind == StreamKind::kUnary ||
                  method_.kind == StreamKind::kServerStreaming;
    if (single && writes_ > 0) return false;
    std::string payload;
    absl::Status status = CodecNamed(codec_).Marshal(message, &payload);
    if (!status.ok()) {
      Fail(absl::InternalError(absl::StrCat("encoding the request: ", status.message())));
      return false;
    }
    connect::AppendEnvelope(0, payload, &request_.body);
    ++writes_;
    return true;
  }

  bool CloseSend() override {
    if (sent_) return !done_ || finish_.ok();
    sent_ = true;
    if (done_) return false;
    if (cancelled_.load()) {
      Fail(absl::CancelledError("the call was cancelled"));
      return false;
    }
    // Headers are made now, so Connect-Timeout-Ms is what is left of the deadline.
    if (absl::Status s =
            AddCallHeaders(config_, options_, request_.options.deadline, &request_.headers);
        !s.ok()) {
      Fail(s);
      return false;
    }
    auto opened = client_->OpenStream(request_);
    request_.body.clear();
    if (!opened.ok()) {
      Fail(opened.status());
      return false;
    }
    std::unique_ptr<http::HttpResponseStream> stream = *std::move(opened);
    {
      absl::MutexLock lock(&mu_);
      stream_ = std::move(stream);
    }
    if (cancelled_.load()) stream_->Cancel();
    if (stream_->status() != 200) {
      // An error before the stream started: the HTTP status and a Connect
      // error body (or whatever a proxy sent).
      std::string body, chunk;
      while (body.size() < 64 * 1024 && stream_->ReadSome(&chunk)) body += chunk;
      Fail(connect::ParseErrorBody(stream_->status(), body));
      return false;
    }
    absl::Status status = CheckContentType(stream_->headers(), codec_, /*streaming=*/true);
    if (status.ok()) {
      std::string encoding = ContentEncoding(stream_->headers(), "connect-content-encoding");
      if (!encoding.empty()) {
        status = absl::InternalError(
            absl::StrCat("the server used compression '", encoding, "' that was not offered"));
      }
    }
    if (!status.ok()) {
      stream_->Cancel();
      Fail(status);
      return false;
    }
    return true;
  }

  bool Read(Message* message) override {
    if (!sent_) CloseSend();
    while (!done_) {
      if (buffer_.size() - pos_ >= 5) {
        auto byte = [&](size_t i) { return static_cast<uint8_t>(buffer_[pos_ + i]); };
        uint32_t length = (uint32_t{byte(1)} << 24) | (uint32_t{byte(2)} << 16) |
                          (uint32_t{byte(3)} << 8) | uint32_t{byte(4)};
        if (length > max_message_bytes_) {
          Abort(absl::ResourceExhaustedError(absl::StrCat(
              "response message of ", length, " bytes exceeds the limit of ", max_message_bytes_)));
          return false;
        }
        if (buffer_.size() - pos_ - 5 >= length) {
          connect::EnvelopeReader reader(absl::string_view(buffer_).substr(pos_, 5 + length),
                                         max_message_bytes_);
          connect::EnvelopeReader::Envelope envelope;
          if (!reader.Next(&envelope)) {
            Abort(absl::InternalError(absl::StrCat("bad envelope: ", reader.status().message())));
            return false;
          }
          pos_ += 5 + length;
          if (envelope.flags & connect::kFlagCompressed) {
            Abort(absl::InternalError("compressed message, but no compression was negotiated"));
            return false;
          }
          if (envelope.flags & connect::kFlagEndStream) {
            finish_ = connect::ParseEndStream(envelope.payload, &trailers_);
            done_ = true;
            return false;
          }
          absl::Status status = CodecNamed(codec_).Unmarshal(envelope.payload, message);
          if (!status.ok()) {
            Abort(absl::InternalError(
                absl::StrCat("decoding the response message: ", status.message())));
            return false;
          }
          return true;
        }
      }
      if (pos_ > 0 && pos_ * 2 >= buffer_.size()) {
        buffer_.erase(0, pos_);
        pos_ = 0;
      }
      std::string chunk;
      if (!stream_->ReadSome(&chunk)) {
        absl::Status status = stream_->read_status();
        if (status.ok()) {
          status = absl::InternalError(
              buffer_.size() > pos_ ? "the response stream ended inside a message"
                                    : "the response stream ended without an end-of-stream message");
        }
        Fail(status);
        return false;
      }
      buffer_ += chunk;
    }
    return false;
  }

  absl::Status Finish() override {
    if (!done_) {
      Abort(absl::CancelledError("Finish called before the stream ended; the call was cancelled"));
    }
    return finish_;
  }

  void Cancel() override {
    cancelled_.store(true);
    absl::MutexLock lock(&mu_);
    if (stream_ != nullptr) stream_->Cancel();
  }

  const Metadata& trailers() const { return trailers_; }

 private:
  void Fail(absl::Status status) {
    if (done_) return;
    done_ = true;
    finish_ = std::move(status);
  }
  // Fails and drops the connection (the rest of the body is not read).
  void Abort(absl::Status status) {
    Fail(std::move(status));
    if (stream_ != nullptr) stream_->Cancel();
  }

  ClientConfig config_;
  CallOptions options_;
  std::shared_ptr<http::HttpClient> client_;
  MethodInfo method_;
  http::HttpRequest request_;
  std::string codec_;
  size_t max_message_bytes_;
  int writes_ = 0;
  bool sent_ = false;
  bool done_ = false;
  absl::Status finish_;
  Metadata trailers_;
  std::string buffer_;
  size_t pos_ = 0;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;  // publishes stream_ to Cancel
  std::unique_ptr<http::HttpResponseStream> stream_;
};

}  // namespace

http::HttpClientOptions HttpTransport::ClientOptionsFor(const ClientConfig& config) {
  http::HttpClientOptions options;
  options.tls.ca_file = config.tls.ca_file;
  options.tls.cert_file = config.tls.cert_file;
  options.tls.key_file = config.tls.key_file;
  options.tls.server_name_override = config.tls.server_name_override;
  // Retries belong to InvokeUnary; the transport makes one attempt per call.
  options.retry = RetryPolicy::None();
  options.timeout = config.default_timeout;
  // Room for the largest message plus a Connect error body.
  options.max_response_bytes = static_cast<size_t>(config.max_message_bytes) + 64 * 1024;
  return options;
}

absl::StatusOr<std::shared_ptr<HttpTransport>> HttpTransport::Create(
    const Endpoint& endpoint, ClientConfig config, HttpTransportOptions options) {
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP transport needs http:// or https://, got ", endpoint.scheme, "://"));
  }
  if (options.codec != "proto" && options.codec != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP transport codec must be proto or json, got '", options.codec, "'"));
  }
  if (endpoint.tls || endpoint.scheme == "https") config.tls.enabled = true;
  std::shared_ptr<http::HttpClient> client = options.client;
  if (client == nullptr) {
    auto made = http::HttpClient::Create(ClientOptionsFor(config));
    if (!made.ok()) return made.status();
    client = std::shared_ptr<http::HttpClient>(*std::move(made));
  }
  std::string path = endpoint.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string base = absl::StrCat(endpoint.scheme, "://", endpoint.authority(), path);
  return std::shared_ptr<HttpTransport>(
      new HttpTransport(std::move(base), std::move(config), options.codec, std::move(client)));
}

HttpTransport::HttpTransport(std::string base_url, ClientConfig config, std::string codec,
                             std::shared_ptr<http::HttpClient> client)
    : base_url_(std::move(base_url)),
      config_(std::move(config)),
      codec_(std::move(codec)),
      client_(std::move(client)) {}

HttpTransport::~HttpTransport() = default;

const std::string& HttpTransport::codec_name() const { return codec_; }

AttemptOutcome HttpTransport::Unary(const MethodInfo& method, const Message& request,
                                    Message* response, const CallOptions& options) {
  AttemptOutcome outcome;
  outcome.reached_server = false;
  const Codec& codec = CodecNamed(codec_);
  http::HttpRequest req;
  req.method = "POST";
  req.url = absl::StrCat(base_url_, method.path);
  if (absl::Status s = codec.Marshal(request, &req.body); !s.ok()) {
    outcome.status = absl::InternalError(absl::StrCat("encoding the request: ", s.message()));
    return outcome;
  }
  absl::Time deadline = DeadlineFor(options, config_);
  req.headers.emplace("content-type", connect::UnaryContentType(codec_));
  if (absl::Status s = AddCallHeaders(config_, options, deadline, &req.headers); !s.ok()) {
    outcome.status = s;
    return outcome;
  }
  http::HttpRequestInfo info;
  req.options.deadline = deadline;
  req.options.timeout = absl::InfiniteDuration();
  req.options.retry = RetryPolicy::None();
  req.options.idempotent = options.idempotent.value_or(method.idempotent);
  req.options.info = &info;
  req.options.parse_json = false;
  auto res = client_->Request(req);
  if (!res.ok()) {
    outcome.status = res.status();
    outcome.reached_server = info.reached_server;
    // The certificate or the size limit will not change on a retry.
    if (res.status().code() == absl::StatusCode::kResourceExhausted ||
        absl::StrContains(res.status().message(), "certificate verification")) {
      outcome.pushback = absl::Milliseconds(-1);
    }
    return outcome;
  }
  outcome.reached_server = true;
  if (res->status != 200) {
    outcome.status = connect::ParseErrorBody(res->status, res->body);
    outcome.pushback = PushbackFrom(res->headers);
    return outcome;
  }
  if (absl::Status s = CheckContentType(res->headers, codec_, /*streaming=*/false); !s.ok()) {
    outcome.status = s;
    return outcome;
  }
  if (std::string encoding = ContentEncoding(res->headers, "content-encoding"); !encoding.empty()) {
    outcome.status = absl::InternalError(
        absl::StrCat("the server used compression '", encoding, "' that was not offered"));
    return outcome;
  }
  if (absl::Status s = codec.Unmarshal(res->body, response); !s.ok()) {
    outcome.status = absl::InternalError(absl::StrCat("decoding the response: ", s.message()));
  }
  return outcome;
}

absl::StatusOr<std::unique_ptr<ClientStream>> HttpTransport::OpenStream(
    const MethodInfo& method, const CallOptions& options) {
  http::HttpRequest req;
  req.method = "POST";
  req.url = absl::StrCat(base_url_, method.path);
  absl::Time deadline = DeadlineFor(options, config_);
  req.headers.emplace("content-type", connect::StreamingContentType(codec_));
  if (deadline <= absl::Now()) {
    return absl::DeadlineExceededError("deadline exceeded before the call was sent");
  }
  req.options.deadline = deadline;
  req.options.timeout = absl::InfiniteDuration();
  req.options.retry = RetryPolicy::None();
  req.options.idempotent = options.idempotent.value_or(method.idempotent);
  return std::unique_ptr<ClientStream>(new HttpClientStream(
      client_, method, std::move(req), codec_, static_cast<size_t>(config_.max_message_bytes),
      config_, options));
}

}  // namespace kei
