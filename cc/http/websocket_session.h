// The socket side of a WebSocket connection on the HTTP listener: completes
// the upgrade (subprotocol, permessage-deflate, limits, keepalive pings), then
// runs two coroutines on the connection's thread: the reader hands each
// message to the protocol engine (cc/websocket/ws_connection.h), the writer
// drains the engine's bounded SendQueue and sends the close frame the queue
// asks for (1013 slow consumer, 1001 shutdown, ...).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cc/http/asio_types.h"
#include "cc/websocket/send_queue.h"
#include "cc/websocket/ws_connection.h"

namespace kei::http {

inline constexpr char kJsonSubprotocol[] = "kei.stream.v1.json";
inline constexpr char kProtoSubprotocol[] = "kei.stream.v1.proto";

// The first subprotocol the client offers that the server speaks; empty when
// it offers none of them (then frames are JSON and no subprotocol is echoed).
inline std::string ChooseSubprotocol(absl::string_view offered) {
  for (absl::string_view item : absl::StrSplit(offered, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item == kJsonSubprotocol || item == kProtoSubprotocol) return std::string(item);
  }
  return "";
}

// Writes what the queue holds until it is closed, then sends its close frame.
template <class WsStream>
Awaitable<void> WriteWebSocket(WsStream& ws, std::shared_ptr<websocket::SendQueue> queue,
                               std::shared_ptr<Timer> wake, std::shared_ptr<Timer> done,
                               std::shared_ptr<bool> finished) {
  namespace bws = boost::beast::websocket;
  std::deque<std::string> batch;
  bool failed = false;
  while (!failed) {
    if (queue->PopAll(&batch)) {
      for (const std::string& frame : batch) {
        auto [ec, n] = co_await ws.async_write(boost::asio::buffer(frame), kTuple);
        if (ec) {
          failed = true;
          break;
        }
      }
      batch.clear();
      continue;
    }
    if (queue->closed()) {
      if (ws.is_open()) {
        bws::close_reason reason(static_cast<bws::close_code>(queue->close_code()),
                                 queue->close_reason());
        co_await ws.async_close(reason, kTuple);
      }
      break;
    }
    wake->expires_at(std::chrono::steady_clock::time_point::max());
    co_await wake->async_wait(kTuple);  // cancelled by SendQueue's wake
  }
  if (failed) queue->Close(1006, "write failed");
  *finished = true;
  done->cancel();
}

// How long a close handshake may take once the server closes a connection;
// then the socket is shut down (a client that stopped reading never answers).
inline constexpr std::chrono::seconds kCloseTimeout{5};

// Serves one upgraded connection until it closes. `register_connection` is
// called with the connection (so shutdown can close it with 1001 and cancel
// its calls) and `unregister_connection` when it ends; `expire(d)` makes the
// connection's socket shut down if it is still open after d.
template <class Stream, class Register, class Unregister, class Expire>
Awaitable<void> ServeWebSocket(const websocket::WsEndpoint& endpoint, Stream& stream,
                               boost::beast::http::request<boost::beast::http::string_body> request,
                               websocket::WsConnection::Peer peer, Register register_connection,
                               Unregister unregister_connection, Expire expire) {
  namespace bws = boost::beast::websocket;
  namespace bhttp = boost::beast::http;
  const websocket::WebSocketOptions& options = endpoint.options;
  bws::stream<Stream&> ws(stream);
  bws::stream_base::timeout timeouts;
  timeouts.handshake_timeout = std::chrono::seconds(30);
  timeouts.idle_timeout = absl::ToChronoNanoseconds(options.idle_timeout);
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  const std::string subprotocol =
      ChooseSubprotocol(absl::string_view(request[bhttp::field::sec_websocket_protocol].data(),
                                          request[bhttp::field::sec_websocket_protocol].size()));
  ws.set_option(bws::stream_base::decorator([subprotocol](bws::response_type& response) {
    response.set(bhttp::field::server, "keid");
    if (!subprotocol.empty()) response.set(bhttp::field::sec_websocket_protocol, subprotocol);
  }));
  bws::permessage_deflate deflate;
  deflate.server_enable = options.compression;
  ws.set_option(deflate);
  ws.read_message_max(options.max_message_bytes);
  boost::system::error_code accept_ec;
  {
    // The upgrade request is not needed once accepted; free it now.
    auto upgrade = std::move(request);
    std::tie(accept_ec) = co_await ws.async_accept(upgrade, kTuple);
  }
  if (accept_ec) co_return;
  const bool binary = subprotocol == kProtoSubprotocol;
  ws.binary(binary);

  auto executor = co_await boost::asio::this_coro::executor;
  auto wake = std::make_shared<Timer>(executor, std::chrono::steady_clock::time_point::max());
  auto done = std::make_shared<Timer>(executor, std::chrono::steady_clock::time_point::max());
  auto finished = std::make_shared<bool>(false);
  auto queue = std::make_shared<websocket::SendQueue>(
      options.send_queue_bytes,
      // Only weak references leave this thread: the queue may be destroyed on
      // a call's thread, and an Asio timer must only ever be touched (and
      // destroyed) on its own I/O thread.
      [executor, weak = std::weak_ptr<Timer>(wake)] {
        boost::asio::post(executor, [weak] {
          if (auto timer = weak.lock()) timer->cancel();
        });
      },
      [expire] { expire(kCloseTimeout); });
  auto connection =
      std::make_shared<websocket::WsConnection>(endpoint, queue, std::move(peer), binary);
  register_connection(connection);
  connection->Start();
  boost::asio::co_spawn(executor, WriteWebSocket(ws, queue, wake, done, finished),
                        boost::asio::detached);

  boost::beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, kTuple);
    if (ec) break;
    if (ws.got_binary() != binary) {
      queue->Close(1003, binary ? "text frame on a kei.stream.v1.proto connection"
                          : "binary frame on a JSON connection");
    } else {
      connection->OnMessage(absl::string_view(static_cast<const char*>(buffer.data().data()),
                                              buffer.size()),
                            binary);
    }
    buffer.consume(buffer.size());
  }
  connection->Stop();
  queue->Close(1000, "");
  while (!*finished) co_await done->async_wait(kTuple);
  unregister_connection(connection);
}

}  // namespace kei::http
