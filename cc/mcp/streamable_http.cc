#include "cc/mcp/streamable_http.h"

#include <algorithm>
#include <deque>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cc/http/http_context.h"
#include "cc/mcp/event_stream.h"
#include "cc/status/http_mapping.h"
#include "cc/status/jsonrpc_mapping.h"

namespace kei::mcp {
namespace {

using http::HeaderList;
using http::HttpRequest;
using http::HttpResponse;
using http::HttpResult;
using http::ResponseWriter;

constexpr char kSessionHeader[] = "mcp-session-id";
constexpr char kVersionHeader[] = "mcp-protocol-version";
// How many finished POST streams a session keeps for resumption.
constexpr size_t kRecentStreams = 32;

// The SSE streams of one session: the standalone stream (server-initiated
// messages, read by GET) and the recent POST response streams.
struct SessionStreams {
  explicit SessionStreams(size_t capacity)
      : capacity(capacity), standalone(std::make_shared<EventStream>("g", capacity)) {}

  std::shared_ptr<EventStream> NewPostStream() {
    absl::MutexLock lock(&mu);
    auto stream = std::make_shared<EventStream>(absl::StrCat("p", ++next_id), capacity);
    recent.push_back(stream);
    while (recent.size() > kRecentStreams) recent.pop_front();
    return stream;
  }
  std::shared_ptr<EventStream> Find(const std::string& id) {
    if (id == standalone->id()) return standalone;
    absl::MutexLock lock(&mu);
    for (auto& s : recent) {
      if (s->id() == id) return s;
    }
    return nullptr;
  }
  // One GET reader of the standalone stream at a time.
  bool AttachReader() {
    absl::MutexLock lock(&mu);
    if (reader_attached) return false;
    reader_attached = true;
    return true;
  }
  void DetachReader() {
    absl::MutexLock lock(&mu);
    reader_attached = false;
  }
  // Where a new GET reader of the standalone stream starts: after what an
  // earlier reader already delivered, so messages sent while no GET stream
  // was open (say, between initialize and the client's GET) still arrive.
  uint64_t undelivered() {
    absl::MutexLock lock(&mu);
    return delivered;
  }
  void MarkDelivered(uint64_t next) {
    absl::MutexLock lock(&mu);
    delivered = std::max(delivered, next);
  }

  const size_t capacity;
  const std::shared_ptr<EventStream> standalone;
  absl::Mutex mu;
  std::deque<std::shared_ptr<EventStream>> recent ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 0;
  bool reader_attached ABSL_GUARDED_BY(mu) = false;
  uint64_t delivered ABSL_GUARDED_BY(mu) = 0;
};

std::shared_ptr<SessionStreams> StreamsOf(Session& session) {
  return std::static_pointer_cast<SessionStreams>(session.transport_state());
}

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "application/json");
  response.body = DumpJson(body);
  return response;
}

// An HTTP-level refusal, with a JSON-RPC error body as MCP clients expect.
HttpResult Refuse(int status, int code, std::string message, Json id = nullptr) {
  return HttpResult::Respond(JsonResponse(status, JsonRpcError(id, code, message)));
}

HttpResult RefuseStatus(const absl::Status& status) {
  HttpResponse response =
      JsonResponse(HttpStatusFromCode(status.code()), JsonRpcErrorFromStatus(nullptr, status));
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    response.headers.emplace_back("www-authenticate", "Bearer");
  }
  return HttpResult::Respond(std::move(response));
}

struct AcceptedTypes {
  bool json = false;
  bool sse = false;
};

AcceptedTypes ParseAccept(absl::string_view accept) {
  AcceptedTypes out;
  if (accept.empty()) {
    out.json = true;
    return out;
  }
  for (absl::string_view part : absl::StrSplit(accept, ',')) {
    absl::string_view type = absl::StripAsciiWhitespace(part.substr(0, part.find(';')));
    std::string lower = absl::AsciiStrToLower(type);
    if (lower == "*/*") out.json = out.sse = true;
    if (lower == "application/json" || lower == "application/*") out.json = true;
    if (lower == "text/event-stream" || lower == "text/*") out.sse = true;
  }
  return out;
}

bool VersionAtLeast(const std::string& version, const char* minimum) {
  return version >= minimum;  // ISO dates compare as strings
}

HeaderList SseHeaders(const std::string& session_id) {
  return {{"content-type", "text/event-stream"},
          {"cache-control", "no-cache"},
          {std::string(kSessionHeader), session_id}};
}

// The priming event (2025-11-25): an id to resume from and the retry hint,
// with no message.
std::string PrimingEvent(const EventStream& stream, uint64_t resume_from, absl::Duration retry) {
  return absl::StrCat("id: ", EventStream::EventId(stream.id(), resume_from),
                      "\nretry: ", absl::ToInt64Milliseconds(retry), "\ndata: \n\n");
}

// Streams `stream` from `from` to `writer` until it closes, the writer
// fails, the session ends or the call is cancelled.
void Relay(EventStream& stream, uint64_t from, ResponseWriter& writer,
           const CancellationToken& cancellation, absl::Duration keepalive,
           const std::function<bool()>& session_alive,
           const std::function<void(uint64_t)>& delivered = nullptr) {
  uint64_t next = from;
  while (!cancellation.IsCancelled() && session_alive()) {
    EventStream::Batch batch = stream.Read(next, keepalive, cancellation);
    std::string out;
    for (const auto& [id, data] : batch.events) out += SseEvent(id, data);
    next = batch.next;
    if (out.empty() && !batch.closed) out = ": keepalive\n\n";
    if (!out.empty() && !writer.Write(out)) return;
    if (delivered && !batch.events.empty()) delivered(next);
    if (batch.closed && next >= stream.end()) return;
  }
}

}  // namespace

const MethodInfo& McpEndpointMethod() {
  static const MethodInfo* info = [] {
    auto* m = new MethodInfo;
    m->full_name = "kei.v1.Mcp/Request";
    m->path = "/kei.v1.Mcp/Request";
    m->service_name = "kei.v1.Mcp";
    m->method_name = "Request";
    m->kind = StreamKind::kUnary;
    return m;
  }();
  return *info;
}

absl::Status AdmitMcpRequest(const Dispatcher& dispatcher, const HttpRequest& request) {
  Context admission;
  admission.set_protocol("mcp");
  admission.set_peer(request.peer);
  if (request.transport_identity.authenticated()) {
    admission.set_transport_identity(request.transport_identity);
  }
  admission.mutable_metadata() = request.headers;
  return dispatcher.Admit(McpEndpointMethod(), admission);
}

StreamableHttp::StreamableHttp(std::shared_ptr<McpServer> server, const Dispatcher& dispatcher,
                               StreamableHttpOptions options)
    : server_(std::move(server)), dispatcher_(dispatcher), options_(std::move(options)) {}

// "localhost", "127.0.0.1" or "[::1]", with or without a port.
static bool IsLoopbackHost(absl::string_view host) {
  if (absl::StartsWith(host, "[")) {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  return absl::EqualsIgnoreCase(host, "localhost") || host == "127.0.0.1" || host == "[::1]";
}

bool StreamableHttp::HostAllowed(absl::string_view host) const {
  if (!options_.loopback_hosts_only || host.empty()) return true;
  if (IsLoopbackHost(host)) return true;
  for (const auto& allowed : options_.allowed_hosts) {
    if (absl::EqualsIgnoreCase(allowed, host)) return true;
  }
  return false;
}

bool StreamableHttp::OriginAllowed(absl::string_view origin) const {
  if (origin.empty()) return true;
  for (const auto& allowed : options_.allowed_origins) {
    if (allowed == "*" || absl::EqualsIgnoreCase(allowed, origin)) return true;
  }
  // Loopback origins on any port.
  absl::string_view rest = origin;
  if (!absl::ConsumePrefix(&rest, "http://") && !absl::ConsumePrefix(&rest, "https://")) {
    return false;
  }
  return IsLoopbackHost(rest.substr(0, rest.find('/')));
}

HttpResult StreamableHttp::Handle(HttpRequest request) const {
  if (!HostAllowed(request.header("host"))) {
    return Refuse(403, -32000, absl::StrCat("Forbidden: host ",
                                            std::string(request.header("host")).substr(0, 200),
                                            " is not allowed"));
  }
  if (!OriginAllowed(request.header("origin"))) {
    return Refuse(403, -32000, absl::StrCat("Forbidden: origin ",
                                            std::string(request.header("origin")).substr(0, 200),
                                            " is not allowed"));
  }
  if (request.method == "POST") return Post(std::move(request));
  // Auth and limits: the same chain as every other protocol (POST runs it on
  // the call's own context).
  if (absl::Status admitted = AdmitMcpRequest(dispatcher_, request); !admitted.ok()) {
    return RefuseStatus(admitted);
  }
  if (request.method == "GET") return Get(std::move(request));
  if (request.method == "DELETE") return Delete(std::move(request));
  HttpResult refused = Refuse(405, -32000, absl::StrCat("Method not allowed: ", request.method));
  refused.response.headers.emplace_back("allow", "GET, POST, DELETE");
  return refused;
}

HttpResult StreamableHttp::Post(HttpRequest request) const {
  std::string session_id(request.header(kSessionHeader));
  std::string version(request.header(kVersionHeader));
  AcceptedTypes accept = ParseAccept(request.header("accept"));
  bool json_body = absl::StartsWithIgnoreCase(request.header("content-type"), "application/json");
  // The call's context takes the headers; the interceptor chain (auth,
  // limits) admits the request on it, as for every other protocol.
  auto call = std::make_shared<Context>();
  if (absl::Status s = http::InitContext(request, call.get()); !s.ok()) return RefuseStatus(s);
  call->set_protocol("mcp");
  if (absl::Status admitted = dispatcher_.Admit(McpEndpointMethod(), *call); !admitted.ok()) {
    return RefuseStatus(admitted);
  }
  if (!accept.json && !accept.sse) {
    return Refuse(406, -32000,
                  "Not Acceptable: accept application/json and text/event-stream");
  }
  if (!json_body) {
    return Refuse(415, -32000, "Unsupported Media Type: send application/json");
  }
  auto body = ParseJsonText(request.body);
  if (!body.ok()) return Refuse(400, kJsonRpcParseError, std::string(body.status().message()));
  if (body->is_array()) return Batch(std::move(*body), session_id, *call);
  JsonRpcFailure failure;
  auto message = ParseJsonRpc(*std::move(body), &failure);
  if (!message.ok()) return Refuse(400, failure.code, failure.message, failure.id);

  std::shared_ptr<Session> session;
  bool initialize = message->is_request() && message->method == "initialize";
  if (initialize) {
    session = server_->CreateSession();
    session->set_transport_state(std::make_shared<SessionStreams>(options_.replay_events));
    auto streams = StreamsOf(*session);
    std::weak_ptr<EventStream> standalone = streams->standalone;
    session->set_outbound([standalone](const Json& m) {
      auto stream = standalone.lock();
      if (!stream) return false;
      stream->Append(DumpJson(m));
      return true;
    });
  } else {
    if (session_id.empty()) {
      return Refuse(400, -32000, "Bad Request: Mcp-Session-Id header is required", message->id);
    }
    session = server_->FindSession(session_id);
    if (!session) return Refuse(404, -32001, "Session not found", message->id);
    if (!version.empty() && !IsSupportedProtocolVersion(version)) {
      return Refuse(400, -32000,
                    absl::StrCat("Bad Request: unsupported MCP-Protocol-Version ",
                                 version.substr(0, 64)),
                    message->id);
    }
  }

  if (!message->is_request()) {
    server_->Handle(*session, *message, *call, nullptr);
    HttpResponse accepted;
    accepted.status = 202;
    return HttpResult::Respond(std::move(accepted));
  }

  bool stream = accept.sse && !initialize && server_->PrefersStream(*message);
  if (!stream) {
    std::weak_ptr<Session> weak = session;
    MessageSink related = [weak](const Json& m) {
      auto s = weak.lock();
      return s && s->SendOutbound(m);
    };
    std::optional<Json> response = server_->Handle(*session, *message, *call, related);
    HttpResponse out = JsonResponse(200, response.value_or(Json::object()));
    if (initialize) {
      if (response && response->contains("error")) {
        server_->CloseSession(session->id());
      } else {
        out.headers.emplace_back(kSessionHeader, session->id());
      }
    }
    return HttpResult::Respond(std::move(out));
  }

  std::shared_ptr<McpServer> server = server_;
  auto owned = std::make_shared<JsonRpcMessage>(*std::move(message));
  absl::Duration retry = options_.retry;
  absl::Duration keepalive = options_.keepalive;
  return HttpResult::Stream([server, session, call, owned, retry,
                             keepalive](ResponseWriter& writer) {
    auto streams = StreamsOf(*session);
    std::shared_ptr<EventStream> events = streams->NewPostStream();
    uint64_t from = events->end();
    if (!writer.Start(200, SseHeaders(session->id()))) return;
    if (VersionAtLeast(session->protocol_version(), "2025-11-25") &&
        !writer.Write(PrimingEvent(*events, from, retry))) {
      return;
    }
    // The handler runs on its own thread and appends to the stream; this
    // thread relays the stream to the client. When the client goes away (or
    // the handler closes the stream), the handler carries on and its answer
    // waits in the stream for a GET with Last-Event-ID.
    auto detached = std::make_shared<std::atomic<bool>>(false);
    std::weak_ptr<EventStream> weak = events;
    std::thread([server, session, call, owned, events, detached] {
      MessageSink emit = [events](const Json& m) {
        events->Append(DumpJson(m));
        return true;
      };
      auto close_stream = [events, detached] {
        detached->store(true);
        events->Wake();
      };
      std::optional<Json> response = server->Handle(*session, *owned, *call, emit, close_stream);
      if (response) events->Append(DumpJson(*response));
      events->Close();
    }).detach();
    CancellationToken cancellation = call->cancellation();
    cancellation.OnCancel([weak] {
      if (auto s = weak.lock()) s->Wake();
    });
    Relay(*events, from, writer, cancellation, keepalive,
          [detached] { return !detached->load(); });
  });
}

// 2025-03-26 lets a POST carry a JSON-RPC batch (later revisions removed it):
// its messages are handled in order and the responses come back as one JSON
// array; a batch of only notifications and responses gets 202.
HttpResult StreamableHttp::Batch(Json batch, const std::string& session_id, Context& call) const {
  std::shared_ptr<Session> session = session_id.empty() ? nullptr : server_->FindSession(session_id);
  if (session_id.empty()) {
    return Refuse(400, -32000, "Bad Request: Mcp-Session-Id header is required");
  }
  if (!session) return Refuse(404, -32001, "Session not found");
  if (session->protocol_version() != "2025-03-26") {
    return Refuse(400, kJsonRpcInvalidRequest,
                  absl::StrCat("JSON-RPC batches are not part of MCP ", session->protocol_version(),
                               ": send one message per request"));
  }
  if (batch.empty() || batch.size() > 100) {
    return Refuse(400, kJsonRpcInvalidRequest, "a batch holds 1 to 100 messages");
  }
  std::weak_ptr<Session> weak = session;
  MessageSink related = [weak](const Json& m) {
    auto s = weak.lock();
    return s && s->SendOutbound(m);
  };
  Json responses = Json::array();
  for (Json& element : batch) {
    JsonRpcFailure failure;
    auto message = ParseJsonRpc(std::move(element), &failure);
    if (!message.ok()) {
      responses.push_back(JsonRpcError(failure.id, failure.code, failure.message));
      continue;
    }
    if (message->is_request() && message->method == "initialize") {
      responses.push_back(JsonRpcError(message->id, kJsonRpcInvalidRequest,
                                       "initialize must not be part of a batch"));
      continue;
    }
    std::optional<Json> response = server_->Handle(*session, *message, call, related);
    if (response) responses.push_back(*std::move(response));
  }
  if (responses.empty()) {
    HttpResponse accepted;
    accepted.status = 202;
    return HttpResult::Respond(std::move(accepted));
  }
  return HttpResult::Respond(JsonResponse(200, responses));
}

HttpResult StreamableHttp::Get(HttpRequest request) const {
  AcceptedTypes accept = ParseAccept(request.header("accept"));
  if (!accept.sse) {
    return Refuse(406, -32000, "Not Acceptable: a GET stream needs Accept: text/event-stream");
  }
  absl::string_view session_id = request.header(kSessionHeader);
  if (session_id.empty()) {
    return Refuse(400, -32000, "Bad Request: Mcp-Session-Id header is required");
  }
  std::shared_ptr<Session> session = server_->FindSession(std::string(session_id));
  if (!session) return Refuse(404, -32001, "Session not found");
  auto streams = StreamsOf(*session);
  if (!streams) return Refuse(404, -32001, "Session not found");

  std::shared_ptr<EventStream> stream = streams->standalone;
  uint64_t from = streams->undelivered();
  std::string last_event_id(request.header("last-event-id"));
  std::string stream_id;
  uint64_t resume_from = 0;
  if (!last_event_id.empty() && EventStream::ParseEventId(last_event_id, &stream_id, &resume_from)) {
    if (auto found = streams->Find(stream_id)) {
      stream = found;
      from = resume_from;
    }
  }
  bool standalone = stream == streams->standalone;
  if (standalone && !streams->AttachReader()) {
    return Refuse(409, -32000, "Conflict: this session already has a GET stream open");
  }
  std::shared_ptr<McpServer> server = server_;
  CancellationToken cancellation = request.cancellation;
  absl::Duration keepalive = options_.keepalive;
  absl::Duration retry = options_.retry;
  std::string id(session_id);
  return HttpResult::Stream([server, streams, stream, from, standalone, cancellation, keepalive,
                             retry, id, version = session->protocol_version()](
                                ResponseWriter& writer) {
    struct Detach {
      SessionStreams* streams;
      bool standalone;
      ~Detach() {
        if (standalone) streams->DetachReader();
      }
    } detach{streams.get(), standalone};
    std::weak_ptr<EventStream> weak = stream;
    cancellation.OnCancel([weak] {
      if (auto s = weak.lock()) s->Wake();
    });
    if (!writer.Start(200, SseHeaders(id))) return;
    if (VersionAtLeast(version, "2025-11-25") &&
        !writer.Write(PrimingEvent(*stream, from, retry))) {
      return;
    }
    std::function<void(uint64_t)> delivered;
    if (standalone) delivered = [&](uint64_t next) { streams->MarkDelivered(next); };
    Relay(*stream, from, writer, cancellation, keepalive,
          [server, id] { return server->FindSession(id) != nullptr; }, delivered);
  });
}

HttpResult StreamableHttp::Delete(HttpRequest request) const {
  absl::string_view session_id = request.header(kSessionHeader);
  if (session_id.empty()) {
    return Refuse(400, -32000, "Bad Request: Mcp-Session-Id header is required");
  }
  std::shared_ptr<Session> session = server_->FindSession(std::string(session_id));
  if (!session) return Refuse(404, -32001, "Session not found");
  if (auto streams = StreamsOf(*session)) streams->standalone->Close();
  server_->CloseSession(session->id());
  HttpResponse ok;
  ok.status = 200;
  return HttpResult::Respond(std::move(ok));
}

}  // namespace kei::mcp
