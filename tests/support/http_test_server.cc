#include "tests/support/http_test_server.h"

#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace kei::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct HttpTestServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<asio::ssl::context> ssl;
};

absl::StatusOr<std::unique_ptr<HttpTestServer>> HttpTestServer::Start(
    HttpTestServerOptions options) {
  std::unique_ptr<HttpTestServer> server(new HttpTestServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  beast::error_code ec;
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    server->tls_ = true;
    impl.ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl.ssl->use_certificate_chain_file(options.cert_file, ec);
    if (!ec) impl.ssl->use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
    if (ec) return absl::InternalError(absl::StrCat("test server TLS setup: ", ec.message()));
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(128, ec);
  if (ec) return absl::InternalError(absl::StrCat("test server listen: ", ec.message()));
  server->port_ = impl.acceptor.local_endpoint().port();
  HttpTestServer* raw = server.get();
  server->acceptor_thread_ = std::thread([raw] { raw->AcceptLoop(); });
  return server;
}

HttpTestServer::~HttpTestServer() { Stop(); }

std::string HttpTestServer::url() const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

void HttpTestServer::Handle(const std::string& path, HttpTestHandler handler) {
  absl::MutexLock lock(&mu_);
  handlers_[path] = std::move(handler);
}

void HttpTestServer::Handle(const std::string& path, HttpTestResponse response) {
  Handle(path, [response](const HttpTestRequest&) { return response; });
}

int HttpTestServer::requests(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(std::count_if(received_.begin(), received_.end(),
                                        [&](const HttpTestRequest& r) { return r.path == path; }));
}

std::vector<HttpTestRequest> HttpTestServer::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

void HttpTestServer::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (impl_ == nullptr) return;
  // shutdown() wakes a thread blocked in accept() or read() on that socket.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (acceptor_thread_.joinable()) acceptor_thread_.join();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

void HttpTestServer::AcceptLoop() {
  while (!stopping_.HasBeenNotified()) {
    tcp::socket socket(impl_->ioc);
    beast::error_code ec;
    impl_->acceptor.accept(socket, ec);
    if (ec || stopping_.HasBeenNotified()) break;
    int number = ++accepted_;
    int now_open = ++open_;
    int seen = max_open_.load();
    while (now_open > seen && !max_open_.compare_exchange_weak(seen, now_open)) {
    }
    int fd = socket.release(ec);
    absl::MutexLock lock(&mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, number, fd] { Serve(number, fd); });
  }
}

HttpTestResponse HttpTestServer::Dispatch(const HttpTestRequest& request) {
  HttpTestHandler handler;
  {
    absl::MutexLock lock(&mu_);
    auto it = handlers_.find(request.path);
    if (it != handlers_.end()) handler = it->second;
  }
  if (!handler) {
    HttpTestResponse not_found;
    not_found.status = 404;
    not_found.body = "no handler for " + request.path;
    return not_found;
  }
  return handler(request);
}

void HttpTestServer::Serve(int connection_number, int fd) {
  {
    tcp::socket socket(impl_->ioc);
    beast::error_code ec;
    socket.assign(tcp::v4(), fd, ec);
    if (!ec) {
      if (tls_) {
        asio::ssl::stream<tcp::socket&> stream(socket, *impl_->ssl);
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) ServeOn(stream, connection_number);
      } else {
        ServeOn(socket, connection_number);
      }
    }
    absl::MutexLock lock(&mu_);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }
  --open_;
}

template <class Stream>
void HttpTestServer::ServeOn(Stream& stream, int connection_number) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (!stopping_.HasBeenNotified()) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    bhttp::read(stream, buffer, parser, ec);
    if (ec) return;
    auto& req = parser.get();
    HttpTestRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.path = request.target.substr(0, request.target.find('?'));
    for (const auto& field : req.base()) {
      request.headers.emplace(absl::AsciiStrToLower(std::string(field.name_string())),
                              std::string(field.value()));
    }
    request.body = req.body();
    request.connection = connection_number;
    {
      absl::MutexLock lock(&mu_);
      received_.push_back(request);
    }
    HttpTestResponse response = Dispatch(request);
    if (response.delay > absl::ZeroDuration() &&
        stopping_.WaitForNotificationWithTimeout(response.delay)) {
      return;
    }
    if (response.close_without_response) return;
    bool keep_alive = req.keep_alive() && !response.close_after_response && !response.until_eof;
    auto status = static_cast<bhttp::status>(response.status);
    if (!response.chunks.empty()) {
      bhttp::response<bhttp::empty_body> res{status, 11};
      for (const auto& [k, v] : response.headers) res.insert(k, v);
      res.chunked(true);
      res.keep_alive(keep_alive);
      bhttp::response_serializer<bhttp::empty_body> serializer{res};
      bhttp::write_header(stream, serializer, ec);
      if (ec) return;
      for (const std::string& chunk : response.chunks) {
        if (response.chunk_delay > absl::ZeroDuration() &&
            stopping_.WaitForNotificationWithTimeout(response.chunk_delay)) {
          return;
        }
        asio::write(stream, bhttp::make_chunk(asio::buffer(chunk)), ec);
        if (ec) return;
      }
      asio::write(stream, bhttp::make_chunk_last(), ec);
      if (ec) return;
    } else if (response.until_eof) {
      std::string head = absl::StrCat("HTTP/1.1 ", response.status, " ",
                                      std::string(bhttp::obsolete_reason(status)), "\r\n");
      for (const auto& [k, v] : response.headers) absl::StrAppend(&head, k, ": ", v, "\r\n");
      absl::StrAppend(&head, "Connection: close\r\n\r\n", response.body);
      asio::write(stream, asio::buffer(head), ec);
      return;
    } else {
      bhttp::response<bhttp::string_body> res{status, 11};
      for (const auto& [k, v] : response.headers) res.insert(k, v);
      res.body() = response.body;
      res.keep_alive(keep_alive);
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (ec) return;
    }
    if (!keep_alive || response.drop_after_response) return;
  }
}

}  // namespace kei::testing
