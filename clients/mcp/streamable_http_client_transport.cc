// MCP Streamable HTTP, client side (see streamable_http_client_transport.h).
#include "clients/mcp/streamable_http_client_transport.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cc/status/http_mapping.h"

namespace kei::mcp {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr int kMaxEventStreamFailures = 3;
// How long the first requests after initialize wait for the GET stream to open.
constexpr absl::Duration kEventStreamOpenWait = absl::Seconds(2);

bool Is2xx(int status) { return status >= 200 && status < 300; }

bool IsEventStream(const http::Headers& headers) {
  auto type = FirstValue(headers, "content-type");
  return type.has_value() && absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(*type),
                                                        "text/event-stream");
}

// Whether `message` is the response to `request_id`.
bool IsResponseTo(const Json& message, const Json& request_id) {
  if (request_id.is_null() || !message.is_object()) return false;
  auto id = message.find("id");
  if (id == message.end() || *id != request_id) return false;
  return message.contains("result") || message.contains("error");
}

}  // namespace

struct StreamableHttpClientTransport::ResumeState {
  std::string last_id;
  bool seen_id = false;
  std::optional<int64_t> retry_ms;
};

absl::StatusOr<std::unique_ptr<StreamableHttpClientTransport>> StreamableHttpClientTransport::Create(
    std::string url, StreamableHttpClientOptions options) {
  auto client = http::HttpClient::Create(options.http);
  if (!client.ok()) return client.status();
  return std::unique_ptr<StreamableHttpClientTransport>(
      new StreamableHttpClientTransport(std::move(url), std::move(options), *std::move(client)));
}

StreamableHttpClientTransport::~StreamableHttpClientTransport() { Close(); }

absl::Status StreamableHttpClientTransport::Start(MessageHandler on_message,
                                                  ClosedHandler on_closed) {
  on_message_ = std::move(on_message);
  on_closed_ = std::move(on_closed);
  return absl::OkStatus();
}

std::string StreamableHttpClientTransport::session_id() const {
  absl::MutexLock lock(&mu_);
  return session_id_;
}

http::Headers StreamableHttpClientTransport::BaseHeaders(absl::string_view accept) const {
  http::Headers headers;
  headers.emplace("accept", std::string(accept));
  absl::MutexLock lock(&mu_);
  if (!session_id_.empty()) headers.emplace("mcp-session-id", session_id_);
  if (!protocol_version_.empty()) headers.emplace("mcp-protocol-version", protocol_version_);
  return headers;
}

std::string StreamableHttpClientTransport::Authorize(http::HttpRequest& request) const {
  if (options_.authorizer == nullptr) return "";
  std::string token = options_.authorizer->AccessToken();
  if (!token.empty()) request.options.bearer_token = token;
  return token;
}

absl::Status StreamableHttpClientTransport::Challenge(const http::HttpResponseStream& stream,
                                                      const std::string& token,
                                                      int attempt) const {
  int status = stream.status();
  if (options_.authorizer == nullptr || (status != 401 && status != 403)) {
    return absl::UnauthenticatedError("no authorizer");
  }
  std::vector<std::string> challenges;
  auto range = stream.headers().equal_range("www-authenticate");
  for (auto it = range.first; it != range.second; ++it) challenges.push_back(it->second);
  return options_.authorizer->OnChallenge(status, challenges, token, attempt);
}

void StreamableHttpClientTransport::NoteSessionId(const http::HttpResponseStream& stream) {
  auto id = FirstValue(stream.headers(), "mcp-session-id");
  if (!id.has_value() || id->empty()) return;
  absl::MutexLock lock(&mu_);
  session_id_ = std::string(*id);
}

void StreamableHttpClientTransport::NoteSessionId(const http::HttpResponse& response) {
  std::string id = response.header("mcp-session-id");
  if (id.empty()) return;
  absl::MutexLock lock(&mu_);
  session_id_ = id;
}

absl::StatusOr<std::shared_ptr<http::HttpResponseStream>> StreamableHttpClientTransport::Open(
    const http::HttpRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::CancelledError("the MCP client is closed");
  }
  auto opened = client_->OpenStream(request);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<http::HttpResponseStream> stream = *std::move(opened);
  absl::MutexLock lock(&mu_);
  if (closed_) {
    stream->Cancel();
    return absl::CancelledError("the MCP client is closed");
  }
  open_streams_.insert(stream);
  return stream;
}

void StreamableHttpClientTransport::Untrack(const std::shared_ptr<http::HttpResponseStream>& stream) {
  absl::MutexLock lock(&mu_);
  open_streams_.erase(stream);
}

absl::StatusOr<std::string> StreamableHttpClientTransport::ReadBody(
    http::HttpResponseStream& stream) {
  std::string body, chunk;
  while (stream.ReadSome(&chunk)) {
    body += chunk;
    if (body.size() > options_.http.max_response_bytes) {
      stream.Cancel();
      return absl::ResourceExhaustedError("the MCP server's answer is too large");
    }
  }
  if (!stream.read_status().ok()) return stream.read_status();
  return body;
}

absl::Status StreamableHttpClientTransport::HttpError(int status, const std::string& body,
                                                      bool had_session) const {
  std::string detail = std::string(absl::StripAsciiWhitespace(body.substr(0, 512)));
  absl::Status from_body;
  if (auto json = ParseJsonText(body); json.ok() && json->is_object()) {
    auto error = json->find("error");
    if (error != json->end() && error->is_object()) {
      from_body = StatusFromJsonRpcError(*error);
      detail = std::string(from_body.message());
    }
  }
  std::string message = absl::StrCat("HTTP ", status, " from ", url_, detail.empty() ? "" : ": ",
                                     detail);
  if (status == 404 && had_session) return SessionExpiredError(message);
  absl::StatusCode code;
  if (status == 401) {
    code = absl::StatusCode::kUnauthenticated;
  } else if (status == 403) {
    code = absl::StatusCode::kPermissionDenied;
  } else if (!from_body.ok() && from_body.code() != absl::StatusCode::kUnknown) {
    code = from_body.code();
  } else {
    code = CodeFromHttpStatus(status);
  }
  return absl::Status(code, message);
}

bool StreamableHttpClientTransport::ReadSse(http::HttpResponseStream& stream, ResumeState& state,
                                            const Json& request_id) {
  SseParser parser;
  std::vector<SseEvent> events;
  std::string chunk;
  while (stream.ReadSome(&chunk)) {
    events.clear();
    parser.Feed(chunk, &events);
    bool found = false;
    for (const SseEvent& event : events) {
      if (event.has_id) {
        state.last_id = event.id;
        state.seen_id = true;
      }
      if (event.event != "message" || absl::StripAsciiWhitespace(event.data).empty()) continue;
      auto message = ParseJsonText(event.data);
      if (!message.ok()) continue;
      bool ours = IsResponseTo(*message, request_id);
      Deliver(*std::move(message));
      found = found || ours;
    }
    if (parser.retry_ms().has_value()) state.retry_ms = parser.retry_ms();
    if (found) {
      stream.Cancel();
      return true;
    }
  }
  return false;
}

absl::Status StreamableHttpClientTransport::Send(const Json& message, const Json& request_id,
                                                 absl::Time deadline) {
  bool had_session = !session_id().empty();
  const std::string key = request_id.is_null() ? "" : DumpJson(request_id);
  struct ForgetOnExit {
    StreamableHttpClientTransport* self;
    const std::string& key;
    ~ForgetOnExit() {
      if (key.empty()) return;
      absl::MutexLock lock(&self->mu_);
      self->in_flight_.erase(key);
    }
  } forget{this, key};
  if (!key.empty()) {
    absl::MutexLock lock(&mu_);
    in_flight_[key] = false;
  }
  struct UntrackOnExit {
    StreamableHttpClientTransport* self;
    std::shared_ptr<http::HttpResponseStream>* stream;
    ~UntrackOnExit() { self->Untrack(*stream); }
  };
  std::shared_ptr<http::HttpResponseStream> stream;
  int status = 0;
  // A 401/403 goes to the authorizer (OAuth), which may authorize and have
  // the request sent again with the new token.
  for (int attempt = 0;; ++attempt) {
    http::HttpRequest request;
    request.method = "POST";
    request.url = url_;
    request.body = DumpJson(message);
    request.headers = BaseHeaders("application/json, text/event-stream");
    request.headers.emplace("content-type", "application/json");
    request.options.deadline = deadline;
    request.options.timeout = absl::InfiniteDuration();
    request.options.parse_json = false;
    const std::string token = Authorize(request);
    auto opened = Open(request);
    if (!opened.ok()) return opened.status();
    stream = *std::move(opened);
    NoteSessionId(*stream);
    status = stream->status();
    if (Is2xx(status)) break;
    auto body = ReadBody(*stream);
    Untrack(stream);
    absl::Status error = HttpError(status, body.ok() ? *body : "", had_session);
    if ((status == 401 || status == 403) && options_.authorizer != nullptr) {
      absl::Status authorized = Challenge(*stream, token, attempt);
      if (authorized.ok()) continue;
      return absl::Status(error.code(), absl::StrCat(error.message(), " (authorization: ",
                                                     authorized.message(), ")"));
    }
    return error;
  }
  UntrackOnExit untrack{this, &stream};
  bool is_request = !request_id.is_null();
  if (!is_request || status == 202) {
    // Notifications and responses: any 2xx is an acknowledgement; the body
    // (some servers send one) is ignored.
    if (status == 202) return absl::OkStatus();
    (void)ReadBody(*stream);
    return absl::OkStatus();
  }
  if (!IsEventStream(stream->headers())) {
    auto body = ReadBody(*stream);
    if (!body.ok()) return body.status();
    if (absl::StripAsciiWhitespace(*body).empty()) return absl::OkStatus();
    auto json = ParseJsonText(*body);
    if (!json.ok()) {
      return absl::InternalError(absl::StrCat("the MCP server answered with invalid JSON: ",
                                              json.status().message()));
    }
    if (json->is_array()) {
      for (auto& item : *json) Deliver(item);
    } else {
      Deliver(*std::move(json));
    }
    return absl::OkStatus();
  }
  ResumeState state;
  if (ReadSse(*stream, state, request_id)) return absl::OkStatus();
  absl::Status last = stream->read_status();
  // The stream ended before the response: resume it with GET + Last-Event-ID
  // after the server's retry delay (SEP-1699).
  for (int attempt = 0; attempt < options_.max_resumptions; ++attempt) {
    // The response may have come on another stream (the GET stream).
    if (Answered(key)) return absl::OkStatus();
    if (last.code() == absl::StatusCode::kCancelled) return last;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("timed out waiting for the MCP server's response");
    }
    if (!state.seen_id) {
      return absl::UnavailableError(absl::StrCat(
          "the MCP server's event stream ended before the response and cannot be resumed",
          last.ok() ? "" : absl::StrCat(" (", last.message(), ")")));
    }
    absl::Duration delay =
        state.retry_ms.has_value() ? absl::Milliseconds(*state.retry_ms) : options_.default_retry;
    if (!SleepUnlessClosed(std::min(delay, deadline - absl::Now()), generation())) {
      return absl::CancelledError("the MCP client is closed");
    }
    http::HttpRequest get;
    get.method = "GET";
    get.url = url_;
    get.headers = BaseHeaders("text/event-stream");
    get.headers.emplace("last-event-id", state.last_id);
    (void)Authorize(get);
    get.options.deadline = deadline;
    get.options.timeout = absl::InfiniteDuration();
    get.options.parse_json = false;
    auto resumed = Open(get);
    if (!resumed.ok()) {
      last = resumed.status();
      continue;
    }
    std::shared_ptr<http::HttpResponseStream> again = *std::move(resumed);
    UntrackOnExit untrack_again{this, &again};
    if (!Is2xx(again->status()) || !IsEventStream(again->headers())) {
      auto body = ReadBody(*again);
      return HttpError(again->status(), body.ok() ? *body : "", had_session);
    }
    if (ReadSse(*again, state, request_id)) return absl::OkStatus();
    last = again->read_status();
  }
  return absl::UnavailableError("the MCP server's event stream kept ending before the response");
}

void StreamableHttpClientTransport::Deliver(Json message) {
  if (message.is_object() && (message.contains("result") || message.contains("error"))) {
    auto id = message.find("id");
    if (id != message.end() && !id->is_null()) {
      absl::MutexLock lock(&mu_);
      auto it = in_flight_.find(DumpJson(*id));
      if (it != in_flight_.end()) it->second = true;
    }
  }
  on_message_(std::move(message));
}

bool StreamableHttpClientTransport::Answered(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(key);
  return it != in_flight_.end() && it->second;
}

uint64_t StreamableHttpClientTransport::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

bool StreamableHttpClientTransport::SleepUnlessClosed(absl::Duration delay, uint64_t generation) {
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  auto stop = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || generation_ != generation;
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop), delay);
  return !stop();
}

void StreamableHttpClientTransport::Initialized(absl::string_view protocol_version) {
  StopEventStream();
  absl::MutexLock lock(&mu_);
  protocol_version_ = std::string(protocol_version);
}

void StreamableHttpClientTransport::OpenServerChannel() {
  StopEventStream();
  absl::MutexLock lock(&mu_);
  if (closed_ || !options_.open_event_stream) return;
  uint64_t generation = ++generation_;
  event_stream_ = std::thread([this, generation] { EventStreamLoop(generation); });
  // Servers may drop what they send while no GET stream is open (the SDK's
  // does), so the first requests wait until the server has answered the GET.
  auto answered = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || generation_ != generation || answered_generation_ == generation;
  };
  mu_.AwaitWithTimeout(absl::Condition(&answered), kEventStreamOpenWait);
}

void StreamableHttpClientTransport::EventStreamLoop(uint64_t generation) {
  ResumeState state;
  int failures = 0;
  int auth_attempts = 0;
  while (true) {
    http::HttpRequest get;
    get.method = "GET";
    get.url = url_;
    get.headers = BaseHeaders("text/event-stream");
    if (state.seen_id) get.headers.emplace("last-event-id", state.last_id);
    get.options.parse_json = false;
    const std::string token = Authorize(get);
    {
      absl::MutexLock lock(&mu_);
      if (closed_ || generation_ != generation) return;
    }
    auto opened = Open(get);
    {
      absl::MutexLock lock(&mu_);
      if (generation_ == generation) answered_generation_ = generation;
    }
    if (!opened.ok()) {
      if (opened.status().code() == absl::StatusCode::kCancelled) return;
      if (++failures > kMaxEventStreamFailures) return;
      if (!SleepUnlessClosed(options_.default_retry * failures, generation)) return;
      continue;
    }
    std::shared_ptr<http::HttpResponseStream> stream = *std::move(opened);
    {
      absl::MutexLock lock(&mu_);
      get_stream_ = stream;
      if (closed_ || generation_ != generation) stream->Cancel();
    }
    // 405 (no such stream), 400/404 (a server that keeps none for this
    // session) and anything else that is not an event stream: the session
    // simply has no server-initiated stream.
    if ((stream->status() == 401 || stream->status() == 403) &&
        options_.authorizer != nullptr &&
        auth_attempts < kMaxEventStreamFailures) {
      absl::Status authorized = Challenge(*stream, token, auth_attempts++);
      {
        absl::MutexLock lock(&mu_);
        if (get_stream_ == stream) get_stream_.reset();
      }
      Untrack(stream);
      if (authorized.ok()) continue;
      return;
    }
    bool usable = Is2xx(stream->status()) && IsEventStream(stream->headers());
    if (usable) {
      failures = 0;
      ReadSse(*stream, state, Json());
    }
    {
      absl::MutexLock lock(&mu_);
      if (get_stream_ == stream) get_stream_.reset();
    }
    Untrack(stream);
    if (!usable) return;
    absl::Duration delay =
        state.retry_ms.has_value() ? absl::Milliseconds(*state.retry_ms) : options_.default_retry;
    if (!SleepUnlessClosed(delay, generation)) return;
  }
}

void StreamableHttpClientTransport::StopEventStream() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    ++generation_;
    if (get_stream_ != nullptr) get_stream_->Cancel();
    thread = std::move(event_stream_);
  }
  if (thread.joinable()) thread.join();
}

void StreamableHttpClientTransport::ResetSession() {
  StopEventStream();
  absl::MutexLock lock(&mu_);
  session_id_.clear();
  protocol_version_.clear();
}

absl::Status StreamableHttpClientTransport::TerminateSessionOnServer() {
  http::HttpRequest request;
  request.method = "DELETE";
  request.url = url_;
  request.headers = BaseHeaders("application/json, text/event-stream");
  (void)Authorize(request);
  request.options.timeout = absl::Seconds(5);
  request.options.retry = RetryPolicy::None();
  request.options.parse_json = false;
  auto response = client_->Request(request);
  if (!response.ok()) return response.status();
  if (!response->ok()) return HttpError(response->status, response->body, false);
  return absl::OkStatus();
}

void StreamableHttpClientTransport::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    for (const auto& stream : open_streams_) stream->Cancel();
  }
  StopEventStream();
  // Ending the session is a courtesy: a server that does not allow DELETE
  // (405) or is already gone changes nothing.
  if (!session_id().empty()) (void)TerminateSessionOnServer();
}

}  // namespace kei::mcp
