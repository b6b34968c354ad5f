// MCP Streamable HTTP, client side: every message is a POST to the endpoint
// (Accept: application/json, text/event-stream); a request's answer is JSON
// or an SSE stream carrying the server's notifications and requests and then
// the response. Keeps the Mcp-Session-Id the server assigns and sends
// MCP-Protocol-Version after initialize; holds a GET SSE stream open for
// server-initiated messages (a 405/400/404 there just means "none"); resumes
// broken streams with GET + Last-Event-ID after the server's `retry` delay;
// reports a 404 for a known session as "session expired" so the session can
// initialize again. Built on the kit's HttpClient (pooling, TLS verified by
// default, bearer token and extra headers).
#pragma once

#include <memory>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "clients/http/http_client.h"
#include "clients/mcp/mcp_client_transport.h"
#include "clients/mcp/sse_parser.h"

namespace kei::mcp {

// Authorization for the MCP endpoint (MCP authorization, see oauth_client.h):
// the bearer token to send, and what to do when the server answers 401/403.
class HttpAuthorizer {
 public:
  virtual ~HttpAuthorizer() = default;
  // "" to send the transport's own (static) bearer token, if any.
  virtual std::string AccessToken() = 0;
  // A 401/403 answered a request sent with `token_used` after `attempt`
  // earlier authorizations for it; OK means: send it again.
  virtual absl::Status OnChallenge(int status, const std::vector<std::string>& www_authenticate,
                                   const std::string& token_used, int attempt) = 0;
};

// Not "StreamableHttpOptions": that is the server's (cc/mcp/streamable_http.h),
// and programs that run a server and call one link both.
struct StreamableHttpClientOptions {
  // Bearer token, extra headers, TLS, connect/header timeout.
  http::HttpClientOptions http;
  // Open the GET stream for server-initiated messages after initialize.
  bool open_event_stream = true;
  // Reconnection delay when the server sent no `retry` hint.
  absl::Duration default_retry = absl::Seconds(1);
  // Resumptions of one request's stream before giving up.
  int max_resumptions = 5;
  // Optional: OAuth (or any other) authorization of every request.
  std::shared_ptr<HttpAuthorizer> authorizer;
};

class StreamableHttpClientTransport final : public McpClientTransport {
 public:
  static absl::StatusOr<std::unique_ptr<StreamableHttpClientTransport>> Create(
      std::string url, StreamableHttpClientOptions options);
  ~StreamableHttpClientTransport() override;

  absl::Status Start(MessageHandler on_message, ClosedHandler on_closed) override;
  absl::Status Send(const Json& message, const Json& request_id, absl::Time deadline) override;
  void Initialized(absl::string_view protocol_version) override;
  void OpenServerChannel() override;
  void ResetSession() override;
  void Close() override;
  std::string name() const override { return "streamable-http"; }

  // The session id the server assigned ("" for a stateless server).
  std::string session_id() const;
  // Test hook: DELETE the session on the server without forgetting it here,
  // as if the server had expired it.
  absl::Status TerminateSessionOnServer();

 private:
  StreamableHttpClientTransport(std::string url, StreamableHttpClientOptions options,
                                std::unique_ptr<http::HttpClient> client)
      : url_(std::move(url)), options_(std::move(options)), client_(std::move(client)) {}

  http::Headers BaseHeaders(absl::string_view accept) const;
  // Sets the authorizer's token on `request`; returns the token ("" if none).
  std::string Authorize(http::HttpRequest& request) const;
  // A 401/403 for a request sent with `token`: whether to send it again.
  absl::Status Challenge(const http::HttpResponseStream& stream, const std::string& token,
                         int attempt) const;
  void NoteSessionId(const http::HttpResponseStream& stream);
  void NoteSessionId(const http::HttpResponse& response);
  // Reads an SSE answer, delivering messages; true once `request_id`'s
  // response went by. `state` keeps the last event id and retry hint.
  struct ResumeState;
  bool ReadSse(http::HttpResponseStream& stream, ResumeState& state, const Json& request_id);
  // Reads a non-SSE body whole.
  absl::StatusOr<std::string> ReadBody(http::HttpResponseStream& stream);
  absl::Status HttpError(int status, const std::string& body, bool had_session) const;
  // Opens a stream and tracks it so Close can cancel it.
  absl::StatusOr<std::shared_ptr<http::HttpResponseStream>> Open(const http::HttpRequest& request);
  void Untrack(const std::shared_ptr<http::HttpResponseStream>& stream);
  // Waits for `delay` unless Close (or a new session) comes first (false then).
  bool SleepUnlessClosed(absl::Duration delay, uint64_t generation);
  uint64_t generation() const;
  void EventStreamLoop(uint64_t generation);
  // Hands a message on, noting responses to requests in flight in Send.
  void Deliver(Json message);
  bool Answered(const std::string& key) const;
  void StopEventStream();

  const std::string url_;
  const StreamableHttpClientOptions options_;
  std::unique_ptr<http::HttpClient> client_;
  MessageHandler on_message_;
  ClosedHandler on_closed_;

  mutable absl::Mutex mu_;
  std::string session_id_ ABSL_GUARDED_BY(mu_);
  std::string protocol_version_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::shared_ptr<http::HttpResponseStream>> open_streams_ ABSL_GUARDED_BY(mu_);
  // The GET stream's thread; a new generation per session.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The generation whose GET stream the server has answered (any status).
  uint64_t answered_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<http::HttpResponseStream> get_stream_ ABSL_GUARDED_BY(mu_);
  // Requests in Send (by their id's JSON) and whether their response arrived
  // on any stream.
  std::map<std::string, bool> in_flight_ ABSL_GUARDED_BY(mu_);
  std::thread event_stream_;
};

}  // namespace kei::mcp
