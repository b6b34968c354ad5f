// A general HTTP/1.1 client, the one the HTTP transport (Connect) and users of
// the original KEI HTTP client share: Request/Get/Post/Put/Delete returning the
// status, lower-case headers, the raw body and the body parsed as JSON. It pools
// keep-alive connections (LIFO, bounded in all and per host), verifies TLS
// certificates by default, bounds every request by one total timeout, and
// retries 5xx answers and network errors with the kit's shared backoff policy
// (cc/retry/retry_policy.h), never 4xx, and non-idempotent methods only when
// the request cannot have reached the server.
//
// I/O is synchronous for the caller: each pooled connection owns a small
// io_context that the calling thread runs until the operation completes or the
// deadline passes, so a hung server never holds a caller past its timeout.
// Thread-safe: many threads may share one HttpClient.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "cc/retry/retry_policy.h"
#include "nlohmann/json.hpp"

namespace kei::http {

// Header names are compared case-insensitively; the client lower-cases them.
using Headers = Metadata;

struct HttpTlsOptions {
  // Verify the server's certificate chain and name (on by default).
  bool verify = true;
  // PEM CA bundle; empty means the system roots.
  std::string ca_file;
  // Client certificate chain and key (PEM) for mutual TLS.
  std::string cert_file;
  std::string key_file;
  // The name sent as SNI and checked against the certificate; empty means the
  // URL's host.
  std::string server_name_override;
};

struct HttpClientOptions {
  // Sent as "authorization: Bearer <token>" unless a request sets its own.
  std::string bearer_token;
  // Sent on every request unless the request sets the same header.
  Headers default_headers;
  std::string user_agent = "kei-http-client/1";
  HttpTlsOptions tls;
  // Total time for one request: connect, TLS, write, read and every retry.
  // InfiniteDuration for none.
  absl::Duration timeout = absl::Seconds(30);
  // Connection pool: open connections in all and per host (scheme, host, port).
  int max_connections = 100;
  int max_connections_per_host = 30;
  // Idle pooled connections older than this are closed instead of reused.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Attempts and backoff; 5xx (but 501/505) and network errors are retried.
  RetryPolicy retry;
  // Larger bodies fail the request with RESOURCE_EXHAUSTED.
  size_t max_response_bytes = 64 * 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;
};

// What one Request call did, for callers that care (the Connect transport).
struct HttpRequestInfo {
  int attempts = 0;
  // False only when no attempt's request can have reached the server.
  bool reached_server = false;
  // Connections this request opened (0 when a pooled one served it).
  int connections_opened = 0;
};

struct RequestOptions {
  // Replaces HttpClientOptions::timeout; the earlier of this and `deadline`.
  std::optional<absl::Duration> timeout;
  absl::Time deadline = absl::InfiniteFuture();
  // Replaces HttpClientOptions::retry.
  std::optional<RetryPolicy> retry;
  // Replaces the method's idempotency (GET/HEAD/PUT/DELETE/OPTIONS/TRACE are).
  std::optional<bool> idempotent;
  // Replaces HttpClientOptions::bearer_token; an empty string sends none.
  std::optional<std::string> bearer_token;
  // Fill HttpResponse::json (callers that decode the body themselves skip it).
  bool parse_json = true;
  HttpRequestInfo* info = nullptr;
};

// The server has its own kei::http::HttpRequest/HttpResponse
// (cc/http/http_message.h). This inline namespace gives the client's a
// distinct link-level name, so a program that runs a server and calls one
// (in-process tests, a service calling another) does not get one type's
// inline destructor for the other's (ODR violation; it crashed). Source code
// still says http::HttpRequest.
inline namespace client {

struct HttpRequest {
  std::string method = "GET";
  // http://host[:port]/path?query or https://...
  std::string url;
  std::string body;
  Headers headers;
  RequestOptions options;
};

struct HttpResponse {
  int status = 0;
  // Lower-case names, values in arrival order.
  Headers headers;
  std::string body;
  // The body parsed as JSON when it is JSON; otherwise the raw body as a JSON
  // string (null for an empty body).
  nlohmann::json json;

  bool ok() const { return status >= 200 && status < 300; }
  // The first value of a (lower-case) header, or "".
  std::string header(absl::string_view name) const;
};

}  // inline namespace client

// A response whose body is read as it arrives (chunked transfer or until the
// connection closes). Not thread-safe except Cancel.
class HttpResponseStream {
 public:
  virtual ~HttpResponseStream() = default;
  virtual int status() const = 0;
  virtual const Headers& headers() const = 0;
  // The next piece of the body: true with `chunk` non-empty, false at the end
  // of the body or on error (then read_status() tells which: OK at a clean end).
  virtual bool ReadSome(std::string* chunk) = 0;
  virtual absl::Status read_status() const = 0;
  // Abandons the response from any thread; a blocked ReadSome returns false
  // with CANCELLED.
  virtual void Cancel() = 0;
};

class HttpClient {
 public:
  // Fails on unreadable TLS files.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // A 4xx/5xx answer is a response, not an error (after retries). Errors:
  // INVALID_ARGUMENT (bad URL), UNAVAILABLE (connection, TLS or transfer
  // failure), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (response too large).
  absl::StatusOr<HttpResponse> Request(const HttpRequest& request);
  absl::StatusOr<HttpResponse> Request(absl::string_view method, absl::string_view url,
                                       std::string body = "", Headers headers = {},
                                       RequestOptions options = {});
  absl::StatusOr<HttpResponse> Get(absl::string_view url, Headers headers = {},
                                   RequestOptions options = {});
  absl::StatusOr<HttpResponse> Post(absl::string_view url, std::string body,
                                    Headers headers = {}, RequestOptions options = {});
  absl::StatusOr<HttpResponse> Put(absl::string_view url, std::string body,
                                   Headers headers = {}, RequestOptions options = {});
  absl::StatusOr<HttpResponse> Delete(absl::string_view url, Headers headers = {},
                                      RequestOptions options = {});

  // Sends the request and returns once the response headers have arrived; the
  // body is then read with ReadSome. Connection failures are retried as for
  // Request; answers (whatever their status) are not. The request's timeout or
  // deadline, when set, bounds the whole stream; otherwise the client's timeout
  // bounds only the wait for the headers.
  absl::StatusOr<std::unique_ptr<HttpResponseStream>> OpenStream(const HttpRequest& request);

  const HttpClientOptions& options() const;
  // Pool state, for tests and metrics.
  int open_connections() const;
  int idle_connections() const;

  class Impl;

 private:
  explicit HttpClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Helpers shared with the Connect transport.
// True for GET, HEAD, PUT, DELETE, OPTIONS and TRACE.
bool IsIdempotentMethod(absl::string_view method);
// A Retry-After value (delay-seconds or an HTTP-date) as a delay from `now`.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value,
                                              absl::Time now = absl::Now());

}  // namespace kei::http
