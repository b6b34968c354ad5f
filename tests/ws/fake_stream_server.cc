#include "tests/ws/fake_stream_server.h"

#include <list>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/buffers_to_string.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/websocket.hpp"
#include "clients/ws/stream_frame_codec.h"

namespace kei::testing {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
}  // namespace

class FakeStreamServer::Impl {
 public:
  using Socket = websocket::stream<tcp::socket>;
  struct Conn {
    std::unique_ptr<Socket> ws;
    absl::Mutex write_mu;
    std::thread thread;
  };

  explicit Impl(Responder responder)
      : responder_(std::move(responder)),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~Impl() {
    stopping_.store(true);
    {
      // A blocked accept does not notice close(); a connection wakes it.
      asio::io_context ioc;
      tcp::socket wake(ioc);
      beast::error_code ec;
      wake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
      accept_thread_.join();
    }
    DropConnections();
    absl::MutexLock lock(&mu_);
    for (auto& conn : conns_) {
      if (conn->thread.joinable()) conn->thread.join();
    }
  }

  void AcceptLoop() {
    while (!stopping_.load()) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_.load()) return;
      auto conn = std::make_shared<Conn>();
      conn->ws = std::make_unique<Socket>(std::move(socket));
      {
        absl::MutexLock lock(&mu_);
        conns_.push_back(conn);
      }
      ++accepted_;
      conn->thread = std::thread([this, conn] { Serve(*conn); });
    }
  }

  void Send(Conn& conn, const v1::StreamFrame& frame) {
    auto text = ws::EncodeFrame(frame);
    if (!text.ok()) return;
    absl::MutexLock lock(&conn.write_mu);
    beast::error_code ec;
    conn.ws->text(true);
    conn.ws->write(asio::buffer(*text), ec);
  }

  void Serve(Conn& conn) {
    beast::error_code ec;
    beast::http::request<beast::http::string_body> req;
    beast::flat_buffer buffer;
    beast::http::read(conn.ws->next_layer(), buffer, req, ec);
    if (ec) return;
    const bool proto = older_proto_.load() &&
                       std::string(req[beast::http::field::sec_websocket_protocol])
                               .find("kei.stream.v1.proto") != std::string::npos;
    conn.ws->set_option(websocket::stream_base::decorator([proto](websocket::response_type& res) {
      res.set(beast::http::field::sec_websocket_protocol,
              proto ? "kei.stream.v1.proto" : "kei.stream.v1.json");
    }));
    {
      absl::MutexLock lock(&mu_);
      auto it = req.find(beast::http::field::authorization);
      last_authorization_ = it == req.end() ? "" : std::string(it->value());
    }
    conn.ws->accept(req, ec);
    if (ec) return;
    v1::StreamFrame welcome;
    welcome.set_type("welcome");
    auto data = ws::ParseJsonValue(
        R"({"protocol":"kei.stream.v1","maxMessageBytes":1048576,"initialCredit":4})");
    *welcome.mutable_data() = *data;
    if (proto) {
      conn.ws->binary(true);
      conn.ws->write(asio::buffer(welcome.SerializeAsString()), ec);
      return;  // the client is expected to leave
    }
    Send(conn, welcome);
    while (true) {
      beast::flat_buffer in;
      conn.ws->read(in, ec);
      if (ec) return;
      auto frame = ws::DecodeFrame(beast::buffers_to_string(in.data()));
      if (!frame.ok()) continue;
      for (const auto& reply : responder_(*frame)) Send(conn, reply);
    }
  }

  void DropConnections() {
    absl::MutexLock lock(&mu_);
    for (auto& conn : conns_) {
      beast::error_code ec;
      beast::get_lowest_layer(*conn->ws).shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  Responder responder_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> older_proto_{false};
  std::atomic<int> accepted_{0};
  std::thread accept_thread_;
  mutable absl::Mutex mu_;
  std::list<std::shared_ptr<Conn>> conns_;
  std::string last_authorization_;
};

FakeStreamServer::FakeStreamServer(Responder responder)
    : impl_(std::make_shared<Impl>(std::move(responder))) {}
FakeStreamServer::~FakeStreamServer() = default;
int FakeStreamServer::port() const { return impl_->port_; }
std::string FakeStreamServer::url() const {
  return absl::StrCat("ws://127.0.0.1:", impl_->port_, "/api/v1/stream");
}
void FakeStreamServer::DropConnections() { impl_->DropConnections(); }
void FakeStreamServer::ActAsOlderProtoServer() { impl_->older_proto_.store(true); }
int FakeStreamServer::connections_accepted() const { return impl_->accepted_.load(); }
std::string FakeStreamServer::last_authorization() const {
  absl::MutexLock lock(&impl_->mu_);
  return impl_->last_authorization_;
}

}  // namespace kei::testing
