// The ceiling for tools/bench/ws_bench: a bare Boost.Beast WebSocket server
// that sends every message straight back (no frame parsing, no dispatch, no
// flow control), so the benchmark shows how much of the gap to the Node.js
// echo server is protocol work and how much is what the machine allows.
//
//   bare_ws_echo_server [--port 0] [--threads 1]
//
// One io_context per thread, connections dealt out round-robin, one coroutine
// per connection. Prints "listening ws://127.0.0.1:PORT/api/v1/stream" once
// accepting, then serves until SIGINT/SIGTERM.
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
#include <boost/beast/websocket.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;

asio::awaitable<void> Session(tcp::socket socket) {
  try {
    socket.set_option(tcp::no_delay(true));
    ws::stream<tcp::socket> stream(std::move(socket));
    stream.set_option(ws::stream_base::decorator([](ws::response_type& response) {
      response.set(beast::http::field::sec_websocket_protocol, "kei.stream.v1.json");
    }));
    co_await stream.async_accept(asio::use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
      co_await stream.async_read(buffer, asio::use_awaitable);
      stream.text(stream.got_text());
      co_await stream.async_write(buffer.data(), asio::use_awaitable);
      buffer.consume(buffer.size());
    }
  } catch (const std::exception&) {
    // closed or reset: the session ends.
  }
}

asio::awaitable<void> Listen(tcp::acceptor& acceptor,
                             std::vector<std::unique_ptr<asio::io_context>>& ios) {
  for (size_t next = 0;; ++next) {
    asio::io_context& io = *ios[next % ios.size()];
    tcp::socket socket = co_await acceptor.async_accept(io.get_executor(), asio::use_awaitable);
    asio::co_spawn(io, Session(std::move(socket)), asio::detached);
  }
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "bare_ws_echo_server: %s\nusage: bare_ws_echo_server [--port 0] [--threads 1]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  int threads = 1;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing flag value");
    char* end = nullptr;
    const long value = std::strtol(argv[i + 1], &end, 10);
    if (*end != '\0') Usage("flag values are numbers");
    if (flag == "--port" && value >= 0 && value <= 65535) {
      port = static_cast<unsigned short>(value);
    } else if (flag == "--threads" && value >= 1 && value <= 256) {
      threads = static_cast<int>(value);
    } else {
      Usage("unknown flag or value out of range");
    }
  }
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
    std::fprintf(stderr, "bare_ws_echo_server: cannot listen on 127.0.0.1:%u: %s\n", port, e.what());
    return 1;
  }
  asio::co_spawn(io, Listen(acceptor, ios), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    for (auto& each : ios) each->stop();
  });
  std::printf("listening ws://127.0.0.1:%u/api/v1/stream\n", acceptor.local_endpoint().port());
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
