#include "tests/support/raw_http_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kei::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct RawHttpConnection::Impl {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  std::string host;
};

std::string RawResponse::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

RawHttpConnection::RawHttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RawHttpConnection::~RawHttpConnection() = default;

absl::StatusOr<std::unique_ptr<RawHttpConnection>> RawHttpConnection::Connect(
    const std::string& host, int port) {
  auto impl = std::make_unique<Impl>();
  impl->host = host;
  beast::error_code ec;
  impl->stream.socket().connect(
      asio::ip::tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  return std::unique_ptr<RawHttpConnection>(new RawHttpConnection(std::move(impl)));
}

namespace {

absl::StatusOr<RawResponse> ReadResponse(RawHttpConnection::Impl& impl, absl::Duration timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  beast::error_code result = asio::error::would_block;
  impl.stream.expires_after(absl::ToChronoNanoseconds(timeout));
  bhttp::async_read(impl.stream, impl.buffer, parser,
                    [&](beast::error_code ec, size_t) { result = ec; });
  impl.io.restart();
  impl.io.run();
  if (result) return absl::UnavailableError(absl::StrCat("read: ", result.message()));
  RawResponse response;
  auto& res = parser.get();
  response.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    response.headers.emplace_back(
        absl::AsciiStrToLower(std::string(field.name_string())), std::string(field.value()));
  }
  response.body = res.body();
  response.keep_alive = res.keep_alive();
  return response;
}

}  // namespace

absl::StatusOr<RawResponse> RawHttpConnection::Send(
    const std::string& method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
    absl::Duration timeout) {
  std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\n");
  // A Host header of the caller's replaces the default one.
  bool has_host = false;
  for (const auto& header : headers) has_host = has_host || absl::AsciiStrToLower(header.first) == "host";
  if (!has_host) absl::StrAppend(&request, "Host: ", impl_->host, "\r\n");
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    absl::StrAppend(&request, k, ": ", v, "\r\n");
    if (absl::AsciiStrToLower(k) == "content-length") has_length = true;
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT")) {
    absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n");
  }
  absl::StrAppend(&request, "\r\n", body);
  return SendRaw(request, timeout);
}

absl::StatusOr<RawResponse> RawHttpConnection::SendRaw(const std::string& bytes,
                                                       absl::Duration timeout) {
  beast::error_code ec;
  asio::write(impl_->stream.socket(), asio::buffer(bytes), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  return ReadResponse(*impl_, timeout);
}

bool RawHttpConnection::PeerClosed() {
  char byte;
  beast::error_code result = asio::error::would_block;
  impl_->stream.expires_after(std::chrono::milliseconds(500));
  impl_->stream.async_read_some(asio::buffer(&byte, 1),
                                [&](beast::error_code ec, size_t) { result = ec; });
  impl_->io.restart();
  impl_->io.run();
  return result == asio::error::eof || result == asio::error::connection_reset;
}

absl::StatusOr<RawResponse> HttpCall(int port, const std::string& method,
                                     const std::string& target,
                                     const std::vector<std::pair<std::string, std::string>>& headers,
                                     const std::string& body) {
  auto connection = RawHttpConnection::Connect("127.0.0.1", port);
  if (!connection.ok()) return connection.status();
  return (*connection)->Send(method, target, headers, body);
}

}  // namespace kei::testing
