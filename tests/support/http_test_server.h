// A tiny programmable HTTP/1.1 server (Boost.Beast, one thread per
// connection) on 127.0.0.1:0 for client tests: per-path canned or computed
// responses with delays, dropped connections and chunked streaming, optional
// TLS, and counters of accepted TCP connections and requests, so tests can
// prove retries, keep-alive reuse and per-host limits from the server's side.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace kei::testing {

struct HttpTestRequest {
  std::string method;
  std::string target;  // path and query
  std::string path;    // without the query
  // Lower-case names.
  std::multimap<std::string, std::string> headers;
  std::string body;
  // 1-based number of the TCP connection it arrived on.
  int connection = 0;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpTestResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Wait this long after reading the request before answering.
  absl::Duration delay = absl::ZeroDuration();
  // Read the request, then close the connection without answering.
  bool close_without_response = false;
  // Answer with "Connection: close" and close afterwards.
  bool close_after_response = false;
  // Answer as keep-alive, then close anyway (a server dropping an idle
  // connection).
  bool drop_after_response = false;
  // When non-empty: Transfer-Encoding chunked, one chunk each, `chunk_delay`
  // apart (`body` is ignored).
  std::vector<std::string> chunks;
  absl::Duration chunk_delay = absl::ZeroDuration();
  // Send `body` with no Content-Length and close (read-until-EOF framing).
  bool until_eof = false;
};

using HttpTestHandler = std::function<HttpTestResponse(const HttpTestRequest&)>;

struct HttpTestServerOptions {
  // PEM files; both set means TLS.
  std::string cert_file;
  std::string key_file;
};

class HttpTestServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpTestServer>> Start(
      HttpTestServerOptions options = {});
  ~HttpTestServer();

  // Handlers by exact path (query ignored); unknown paths get 404.
  void Handle(const std::string& path, HttpTestHandler handler);
  void Handle(const std::string& path, HttpTestResponse response);

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" (https:// with TLS).
  std::string url() const;

  int connections_accepted() const { return accepted_.load(); }
  // Connections open right now, and the most ever open at once.
  int connections_open() const { return open_.load(); }
  int max_connections_open() const { return max_open_.load(); }
  int requests(const std::string& path) const;
  std::vector<HttpTestRequest> received() const;

  // Closes the listener and every connection; joins the threads.
  void Stop();

  struct Impl;

 private:
  HttpTestServer() = default;
  void AcceptLoop();
  void Serve(int connection_number, int fd);
  template <class Stream>
  void ServeOn(Stream& stream, int connection_number);
  HttpTestResponse Dispatch(const HttpTestRequest& request);

  std::unique_ptr<Impl> impl_;
  bool tls_ = false;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};
  absl::Notification stopping_;
  mutable absl::Mutex mu_;
  std::map<std::string, HttpTestHandler> handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpTestRequest> received_ ABSL_GUARDED_BY(mu_);
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_thread_;
};

}  // namespace kei::testing
