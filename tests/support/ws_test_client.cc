#include "tests/support/ws_test_client.h"

#include <chrono>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kei::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;

class WsTestClient::Impl {
 public:
  asio::io_context io;
  ws::stream<tcp::socket> stream{io};
  beast::flat_buffer buffer;
  bool binary = false;
  std::string subprotocol;
  int close_code = 0;
  // A read that timed out stays outstanding (cancelling a WebSocket read
  // would fail the stream); the next ReadRaw waits for it.
  bool read_pending = false;
  std::optional<beast::error_code> read_result;

  // Runs the io_context until `done()` or `timeout`; false on timeout.
  template <class Done>
  bool RunUntil(Done done, absl::Duration timeout) {
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (!done()) {
      io.restart();
      if (io.run_one_until(deadline) == 0 && std::chrono::steady_clock::now() >= deadline) {
        return done();
      }
    }
    return true;
  }

  // Runs one asynchronous operation (not a read) to completion or `timeout`.
  template <class Start>
  beast::error_code Run(Start start, absl::Duration timeout) {
    std::optional<beast::error_code> result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    if (!RunUntil([&] { return result.has_value(); }, timeout)) {
      beast::get_lowest_layer(stream).cancel();
      RunUntil([&] { return result.has_value(); }, absl::Seconds(1));
      return asio::error::timed_out;
    }
    return *result;
  }
};

WsTestClient::WsTestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsTestClient::~WsTestClient() { Close(); }

absl::StatusOr<std::unique_ptr<WsTestClient>> WsTestClient::Connect(int port,
                                                                    WsTestClientOptions options) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  beast::get_lowest_layer(impl->stream)
      .connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
               ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  impl->stream.set_option(ws::stream_base::decorator([&options](ws::request_type& request) {
    for (const auto& [name, value] : options.headers) request.set(name, value);
    if (!options.subprotocol.empty()) {
      request.set(beast::http::field::sec_websocket_protocol, options.subprotocol);
    }
  }));
  ws::permessage_deflate deflate;
  deflate.client_enable = options.deflate;
  impl->stream.set_option(deflate);
  impl->stream.read_message_max(options.max_message_bytes);
  ws::response_type response;
  ec = impl->Run(
      [&](auto handler) {
        impl->stream.async_handshake(response, absl::StrCat("127.0.0.1:", port), options.path,
                                     handler);
      },
      absl::Seconds(10));
  if (ec) {
    return absl::UnavailableError(absl::StrCat("status ", response.result_int(), ": ",
                                               ec.message(), ": ", response.body()));
  }
  impl->subprotocol = std::string(response[beast::http::field::sec_websocket_protocol]);
  impl->binary = impl->subprotocol == "kei.stream.v1.proto";
  return std::unique_ptr<WsTestClient>(new WsTestClient(std::move(impl)));
}

absl::Status WsTestClient::Send(absl::string_view message, bool binary) {
  impl_->stream.binary(binary);
  beast::error_code ec = impl_->Run(
      [&](auto handler) {
        impl_->stream.async_write(asio::buffer(message.data(), message.size()), handler);
      },
      absl::Seconds(10));
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> WsTestClient::ReadRaw(absl::Duration timeout) {
  Impl& impl = *impl_;
  if (!impl.read_pending) {
    impl.buffer.clear();
    impl.read_result.reset();
    impl.read_pending = true;
    impl.stream.async_read(impl.buffer, [&impl](beast::error_code ec, size_t) {
      impl.read_result = ec;
    });
  }
  if (!impl.RunUntil([&] { return impl.read_result.has_value(); }, timeout)) {
    return absl::DeadlineExceededError("no message within the timeout");
  }
  impl.read_pending = false;
  const beast::error_code ec = *impl.read_result;
  if (ec) {
    impl.close_code = impl.stream.reason().code;
    return absl::UnavailableError(absl::StrCat("read: ", ec.message(), " (close code ",
                                               impl.close_code, ")"));
  }
  return beast::buffers_to_string(impl.buffer.data());
}

absl::StatusOr<websocket::ParsedFrame> WsTestClient::Read(absl::Duration timeout) {
  auto raw = ReadRaw(timeout);
  if (!raw.ok()) return raw.status();
  return websocket::ParseFrame(*raw, impl_->binary);
}

absl::StatusOr<websocket::ParsedFrame> WsTestClient::ReadUntil(
    const std::function<bool(const websocket::ParsedFrame&)>& match, absl::Duration timeout,
    std::vector<websocket::ParsedFrame>* skipped) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    auto frame = Read(std::max(deadline - absl::Now(), absl::Milliseconds(1)));
    if (!frame.ok()) return frame.status();
    if (match(*frame)) return frame;
    if (skipped != nullptr) skipped->push_back(*std::move(frame));
  }
}

absl::StatusOr<websocket::ParsedFrame> WsTestClient::ReadType(absl::string_view type,
                                                              absl::string_view id,
                                                              absl::Duration timeout) {
  return ReadUntil(
      [&](const websocket::ParsedFrame& f) {
        return f.frame.type() == type && (id.empty() || f.frame.id() == id);
      },
      timeout);
}

int WsTestClient::close_code() const { return impl_->close_code; }

std::string WsTestClient::subprotocol() const { return impl_->subprotocol; }

void WsTestClient::Close() {
  if (!impl_ || !impl_->stream.is_open() || impl_->read_pending) return;
  impl_->Run([&](auto handler) { impl_->stream.async_close(ws::close_code::normal, handler); },
             absl::Seconds(2));
}

}  // namespace kei::testing
