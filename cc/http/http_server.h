// The HTTP/1.1 listener (Boost.Beast), plain or TLS: one session coroutine per
// connection with explicit limits (header and body size, timeouts, connection
// count) and keep-alive. Sessions hand each request to the HttpRouter; unary
// answers are written by the session, streaming answers by a worker thread
// whose writes the session performs, so a slow client never blocks an I/O
// thread and every write has a timeout. WebSocket upgrades on the configured
// path become KEI stream protocol connections (cc/http/websocket_session.h).
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/cancellation.h"
#include "cc/http/http_router.h"
#include "cc/security/tls_config.h"
#include "cc/websocket/ws_connection.h"

namespace kei::http {

struct HttpServerOptions {
  // host:port; port 0 picks a free port (see HttpServer::port).
  std::string address = "127.0.0.1:0";
  ServerTlsConfig tls;
  // Larger bodies get 413.
  size_t max_body_bytes = 4 * 1024 * 1024;
  // Larger request heads get 431.
  size_t max_header_bytes = 16 * 1024;
  // Time to receive a whole request, including waiting on an idle keep-alive
  // connection; the connection is closed when it passes.
  absl::Duration read_timeout = absl::Seconds(60);
  // Time for each response write.
  absl::Duration write_timeout = absl::Seconds(30);
  // Connections beyond this are answered 503 and closed.
  int max_connections = 10000;
  // I/O threads, each with its own event loop; connections are dealt out
  // round-robin and stay on their thread. 0 means max(16, 4 x cores). Unary
  // handlers run on the connection's thread (no hand-off on the hot path), so
  // a handler that blocks delays the other connections on that thread; more
  // threads spread them thinner (idle threads cost only their stacks).
  int io_threads = 0;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, std::unique_ptr<HttpRouter> router);
  ~HttpServer();

  // Serves the KEI stream protocol on `endpoint.options.path` (before Start).
  void EnableWebSocket(websocket::WsEndpoint endpoint);

  absl::Status Start();
  int port() const { return port_; }
  // "127.0.0.1:8080"
  std::string target() const;
  // Stops accepting, lets requests in flight finish for up to `grace`, then
  // cancels the rest and stops.
  void Shutdown(absl::Duration grace);

  // Calls being served right now; for tests and metrics.
  int in_flight() const { return in_flight_.load(); }
  int connections() const { return connections_.load(); }
  // Connections accepted since start.
  int accepted() const { return accepted_.load(); }

  struct State;

 private:
  HttpServerOptions options_;
  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<int> in_flight_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> accepted_{0};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace kei::http
