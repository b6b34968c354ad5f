// The ceiling for tools/bench/http_bench: a bare Boost.Beast HTTP/1.1 server that
// reads each request whole and answers 200 with a small fixed JSON body, with
// keep-alive and nothing else (no routing, no codec, no dispatch). keid's HTTP
// adapter is measured against it with the same load generator and payload.
//
//   bare_http_server [--port 0] [--threads N]
//
// One io_context per thread (N, default: hardware concurrency), connections
// dealt out round-robin, one coroutine per connection. Prints "listening http://127.0.0.1:PORT" once accepting, then
// serves until SIGINT/SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr char kBody[] = R"({"status":"ok"})";
constexpr std::size_t kBodyLimit = 1 << 20;

// Serves one connection until the peer closes it or asks for Connection: close.
asio::awaitable<void> Session(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  try {
    socket.set_option(tcp::no_delay(true));
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kBodyLimit);
      co_await http::async_read(socket, buffer, parser, asio::use_awaitable);
      const http::request<http::string_body>& req = parser.get();

      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::server, "bare");
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = kBody;
      res.prepare_payload();
      co_await http::async_write(socket, res, asio::use_awaitable);
      if (!res.keep_alive()) break;
    }
  } catch (const std::exception&) {
    // end of stream, reset or a malformed request: drop the connection.
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

// Deals connections out round-robin to the per-thread event loops.
asio::awaitable<void> Listen(tcp::acceptor& acceptor,
                             std::vector<std::unique_ptr<asio::io_context>>& ios) {
  for (size_t next = 0;; ++next) {
    asio::io_context& io = *ios[next % ios.size()];
    tcp::socket socket = co_await acceptor.async_accept(io.get_executor(), asio::use_awaitable);
    asio::co_spawn(io, Session(std::move(socket)), asio::detached);
  }
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "bare_http_server: %s\nusage: bare_http_server [--port 0] [--threads N]\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads < 1) threads = 1;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing flag value");
    char* end = nullptr;
    const long value = std::strtol(argv[i + 1], &end, 10);
    if (*end != '\0') Usage("flag values are numbers");
    if (flag == "--port" && value >= 0 && value <= 65535) {
      port = static_cast<unsigned short>(value);
    } else if (flag == "--threads" && value >= 1 && value <= 1024) {
      threads = static_cast<int>(value);
    } else {
      Usage("unknown flag or value out of range");
    }
  }

  // One event loop per thread, as keid's HTTP listener does, so the ceiling
  // uses the same (fastest) threading model.
  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (int t = 0; t < threads; ++t) ios.push_back(std::make_unique<asio::io_context>(1));
  asio::io_context& io = *ios[0];
  tcp::acceptor acceptor(io);
  try {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bare_http_server: cannot listen on 127.0.0.1:%u: %s\n", port, e.what());
    return 1;
  }
  asio::co_spawn(io, Listen(acceptor, ios), asio::detached);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    for (auto& each : ios) each->stop();
  });

  std::printf("listening http://127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);

  std::vector<std::thread> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  for (int t = 1; t < threads; ++t) {
    keep_running.push_back(asio::make_work_guard(ios[t]->get_executor()));
    workers.emplace_back([&each = *ios[t]] { each.run(); });
  }
  io.run();
  for (auto& w : workers) w.join();
  return 0;
}
