#include "clients/ws/ws_connection.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/buffers_to_string.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/websocket.hpp"
#include "boost/beast/websocket/ssl.hpp"
#include "cc/http/connect_wire.h"
#include "clients/protocol.h"
#include "clients/ssl_client_context.h"

namespace kei::ws {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using beast::error_code;

absl::string_view View(beast::string_view s) { return absl::string_view(s.data(), s.size()); }

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d > absl::Hours(24 * 365)) d = absl::Hours(24 * 365);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

bool Enabled(absl::Duration d) {
  return d > absl::ZeroDuration() && d != absl::InfiniteDuration();
}

absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeSslContext(const ClientTlsConfig& tls) {
  return MakeSslClientContext(SslClientFiles{true, tls.ca_file, tls.cert_file, tls.key_file});
}

// The handshake's headers: credentials and metadata, as every call carries them.
std::vector<std::pair<std::string, std::string>> HandshakeHeaders(
    const WsConnectionOptions& options) {
  std::vector<std::pair<std::string, std::string>> headers;
  const ClientConfig& config = options.config;
  if (!config.bearer_token.empty()) {
    headers.emplace_back("authorization", absl::StrCat("Bearer ", config.bearer_token));
  }
  if (!config.api_key.empty()) {
    headers.emplace_back(absl::AsciiStrToLower(config.api_key_header), config.api_key);
  }
  auto add = [&](const Metadata& metadata) {
    for (const auto& [key, value] : metadata) {
      std::string name = absl::AsciiStrToLower(key);
      headers.emplace_back(name,
                           absl::EndsWith(name, "-bin") ? absl::Base64Escape(value) : value);
    }
  };
  add(config.metadata);
  add(options.headers);
  return headers;
}

}  // namespace

absl::Status StatusForCloseCode(int code, absl::string_view reason) {
  std::string why = absl::StrCat("the server closed the stream connection (", code,
                                 reason.empty() ? "" : ": ", reason, ")");
  switch (code) {
    case 1008: return absl::UnauthenticatedError(why);
    case 1009: return absl::ResourceExhaustedError(why);
    case 1003: return absl::InternalError(why);
    case 1011: return absl::InternalError(why);
    default: return absl::UnavailableError(why);
  }
}

class WsConnection::Impl {
 public:
  Impl(WsConnectionOptions options, FrameCallback on_frame, CloseCallback on_close)
      : options_(std::move(options)),
        on_frame_(std::move(on_frame)),
        on_close_(std::move(on_close)),
        ping_timer_(ioc_),
        close_timer_(ioc_) {}

  // Connects, upgrades and reads the welcome frame, on the caller's thread.
  absl::Status Open(WelcomeInfo* welcome, std::string* subprotocol) {
    auto endpoint = ParseEndpoint(options_.url);
    if (!endpoint.ok()) return endpoint.status();
    if (endpoint->scheme != "ws" && endpoint->scheme != "wss") {
      return absl::InvalidArgumentError(
          absl::StrCat("a stream connection needs ws:// or wss://, got ", endpoint->scheme, "://"));
    }
    absl::Time deadline = absl::Now() + options_.connect_timeout;
    std::string target = endpoint->path.empty() || endpoint->path == "/"
                             ? std::string(kStreamPath)
                             : endpoint->path;
    if (endpoint->tls) {
      auto ssl = MakeSslContext(options_.config.tls);
      if (!ssl.ok()) return ssl.status();
      ssl_ = *std::move(ssl);
      tls_.emplace(ioc_, *ssl_);
    } else {
      plain_.emplace(ioc_);
    }
    std::string authority = endpoint->authority();

    // Resolve.
    std::vector<tcp::endpoint> addresses;
    error_code ec;
    asio::ip::address address = asio::ip::make_address(endpoint->host, ec);
    if (!ec) {
      addresses.emplace_back(address, static_cast<unsigned short>(endpoint->port));
    } else {
      tcp::resolver resolver(ioc_);
      bool done = false;
      resolver.async_resolve(endpoint->host, std::to_string(endpoint->port),
                             [&](const error_code& e, tcp::resolver::results_type results) {
                               ec = e;
                               for (const auto& entry : results) addresses.push_back(entry.endpoint());
                               done = true;
                             });
      if (!RunUntil(done, deadline, [&] { resolver.cancel(); })) {
        return absl::DeadlineExceededError(absl::StrCat("timed out resolving ", endpoint->host));
      }
      if (ec || addresses.empty()) {
        return absl::UnavailableError(absl::StrCat("cannot resolve ", endpoint->host, ": ",
                                                   ec ? ec.message() : "no addresses"));
      }
    }
    // Connect.
    {
      bool done = false;
      asio::async_connect(socket(), addresses, [&](const error_code& e, const tcp::endpoint&) {
        ec = e;
        done = true;
      });
      if (!RunUntil(done, deadline, [&] { DropSocket(); })) {
        return absl::DeadlineExceededError(absl::StrCat("timed out connecting to ", authority));
      }
      if (ec) {
        return absl::UnavailableError(absl::StrCat("cannot connect to ", authority, ": ", ec.message()));
      }
      socket().set_option(tcp::no_delay(true), ec);
    }
    // TLS.
    if (tls_) {
      const ClientTlsConfig& tls = options_.config.tls;
      const std::string& name =
          tls.server_name_override.empty() ? endpoint->host : tls.server_name_override;
      error_code parse_ec;
      bool name_is_ip = (asio::ip::make_address(name, parse_ec), !parse_ec);
      SSL* ssl = tls_->next_layer().native_handle();
      if (!name_is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int ok = name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
      if (ok != 1) return absl::InvalidArgumentError(absl::StrCat("bad TLS name '", name, "'"));
      bool done = false;
      tls_->next_layer().async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) {
        ec = e;
        done = true;
      });
      if (!RunUntil(done, deadline, [&] { DropSocket(); })) {
        return absl::DeadlineExceededError(
            absl::StrCat("timed out in the TLS handshake with ", authority));
      }
      if (ec) {
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
          return absl::UnavailableError(absl::StrCat("TLS certificate verification of ", authority,
                                                     " (as '", name, "') failed: ",
                                                     X509_verify_cert_error_string(verify)));
        }
        return absl::UnavailableError(
            absl::StrCat("TLS handshake with ", authority, " failed: ", ec.message()));
      }
    }
    // Upgrade.
    websocket::response_type response;
    {
      auto headers = HandshakeHeaders(options_);
      const std::string offered =
          options_.proto_frames ? absl::StrCat(kProtoSubprotocol, ", ", kJsonSubprotocol)
                                : std::string(kJsonSubprotocol);
      WithWs([&](auto& ws) {
        websocket::stream_base::timeout timeouts;
        timeouts.handshake_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            ToChrono(std::max(options_.connect_timeout, options_.close_timeout)));
        timeouts.idle_timeout = websocket::stream_base::none();
        timeouts.keep_alive_pings = false;
        ws.set_option(timeouts);
        ws.set_option(websocket::stream_base::decorator([headers, offered](websocket::request_type& req) {
          req.set(beast::http::field::user_agent, "kei-ws-client/1");
          req.set(beast::http::field::sec_websocket_protocol, offered);
          for (const auto& [name, value] : headers) req.insert(name, value);
        }));
        if (options_.compression) {
          websocket::permessage_deflate deflate;
          deflate.client_enable = true;
          ws.set_option(deflate);
        }
        ws.read_message_max(options_.max_message_bytes);
        ws.text(true);
      });
      bool done = false;
      WithWs([&](auto& ws) {
        ws.async_handshake(response, authority, target, [&](const error_code& e) {
          ec = e;
          done = true;
        });
      });
      if (!RunUntil(done, deadline, [&] { DropSocket(); })) {
        return absl::DeadlineExceededError(
            absl::StrCat("timed out in the WebSocket handshake with ", authority));
      }
      if (ec) {
        if (response.result_int() != 0 && response.result_int() != 101) {
          absl::Status refused = connect::ParseErrorBody(response.result_int(), response.body());
          return absl::Status(refused.code(), absl::StrCat("the server refused the upgrade (HTTP ",
                                                           response.result_int(), "): ",
                                                           refused.message()));
        }
        return absl::UnavailableError(
            absl::StrCat("WebSocket handshake with ", authority, " failed: ", ec.message()));
      }
      auto chosen = response.find(beast::http::field::sec_websocket_protocol);
      if (chosen != response.end()) {
        *subprotocol = std::string(View(chosen->value()));
        const bool proto = options_.proto_frames && *subprotocol == kProtoSubprotocol;
        if (!proto && *subprotocol != kJsonSubprotocol) {
          DropSocket();
          return absl::UnavailableError(absl::StrCat("the server chose subprotocol '",
                                                     *subprotocol, "', which was not offered"));
        }
        binary_ = proto;
        WithWs([&](auto& ws) { ws.binary(proto); });
      }
    }
    // The welcome frame.
    {
      bool done = false;
      WithWs([&](auto& ws) {
        ws.async_read(read_buffer_, [&](const error_code& e, size_t) {
          ec = e;
          done = true;
        });
      });
      if (!RunUntil(done, deadline, [&] { DropSocket(); })) {
        return absl::DeadlineExceededError(
            absl::StrCat("timed out waiting for the welcome frame from ", authority));
      }
      if (ec) {
        if (ec == websocket::error::closed) {
          int code = 0;
          std::string reason;
          WithWs([&](auto& ws) {
            code = ws.reason().code;
            reason = std::string(ws.reason().reason.c_str());
          });
          return StatusForCloseCode(code, reason);
        }
        return absl::UnavailableError(
            absl::StrCat("reading the welcome frame from ", authority, ": ", ec.message()));
      }
      std::string text = beast::buffers_to_string(read_buffer_.data());
      read_buffer_.consume(read_buffer_.size());
      auto frame = ParseFrame(text, binary_);
      if (frame.ok() && frame->frame.type() == kWelcomeFrame) {
        if (auto full = WithDataValue(*frame); full.ok()) *welcome = ParseWelcome(*full);
      }
      if (frame.ok()) pending_.push_back(*std::move(frame));
    }
    if (binary_ && !welcome->payload) {
      DropSocket();
      return absl::FailedPreconditionError(absl::StrCat(
          "the server at ", authority, " chose kei.stream.v1.proto but does not carry call "
          "messages in payload (an older server); connect with proto_frames = false"));
    }
    welcome_ = *welcome;
    return absl::OkStatus();
  }

  // Runs on the io thread until the connection is over.
  void Run() {
    ioc_.restart();
    asio::post(ioc_, [this] {
      WithWs([this](auto& ws) {
        ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
          if (kind == websocket::frame_type::pong) OnPong();
        });
      });
      for (const Frame& frame : pending_) Deliver(frame);
      pending_.clear();
      if (finalized_) return;
      ReadNext();
      SchedulePing(options_.ping_interval);
    });
    ioc_.run();
  }

  absl::Status Send(v1::StreamFrame frame, absl::string_view data_json) {
    const std::string type = frame.type();
    auto text = RenderFrame(std::move(frame), data_json, binary_);
    if (!text.ok()) return text.status();
    return Queue(type, *std::move(text));
  }

  absl::Status SendCall(v1::StreamFrame frame, CallMessage message) {
    if (message.proto != binary_) {
      return absl::UnavailableError(
          "the stream connection was replaced by one with another encoding; try again");
    }
    const std::string type = frame.type();
    return Queue(type, RenderCallFrame(std::move(frame), std::move(message)));
  }

  absl::Status Queue(const std::string& type, std::string text) {
    size_t limit = options_.max_message_bytes;
    if (welcome_.max_message_bytes > 0) {
      limit = std::min(limit, static_cast<size_t>(welcome_.max_message_bytes));
    }
    if (text.size() > limit) {
      return absl::ResourceExhaustedError(absl::StrCat("a ", type, " frame of ",
                                                       text.size(), " bytes exceeds the limit of ",
                                                       limit));
    }
    absl::MutexLock lock(&mu_);
    if (state_ != State::kOpen) return absl::UnavailableError("the stream connection is closed");
    queue_.push_back(std::move(text));
    if (!writing_) {
      writing_ = true;
      asio::post(ioc_, [this] { WriteNext(); });
    }
    return absl::OkStatus();
  }

  void RequestClose() {
    {
      absl::MutexLock lock(&mu_);
      if (state_ != State::kOpen) return;
      state_ = State::kClosing;
    }
    asio::post(ioc_, [this] {
      if (finalized_) return;
      close_timer_.expires_after(ToChrono(options_.close_timeout));
      close_timer_.async_wait([this](const error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        Finalize(WsCloseInfo{0, "close timed out", absl::OkStatus()});
      });
      bool writing;
      {
        absl::MutexLock lock(&mu_);
        writing = writing_;
      }
      if (!writing) StartClosingHandshake();
    });
  }

  bool open() const {
    absl::MutexLock lock(&mu_);
    return state_ == State::kOpen;
  }

  void Detach() { detached_.store(true); }

  std::atomic<int> pings_sent{0};
  std::atomic<int> pongs_received{0};

 private:
  enum class State { kOpen, kClosing, kClosed };

  template <class F>
  void WithWs(F&& f) {
    if (tls_) f(*tls_);
    else f(*plain_);
  }
  tcp::socket& socket() { return tls_ ? beast::get_lowest_layer(*tls_) : beast::get_lowest_layer(*plain_); }
  void DropSocket() {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  // Runs the io_context on the caller's thread until `done` or the deadline;
  // on the deadline, `cancel` aborts the operation and its handler still runs.
  bool RunUntil(bool& done, absl::Time deadline, const std::function<void()>& cancel) {
    ioc_.restart();
    while (!done) {
      absl::Duration remaining = deadline - absl::Now();
      if (remaining <= absl::ZeroDuration()) {
        cancel();
        ioc_.restart();
        for (int i = 0; !done && i < 1000; ++i) ioc_.run_one_for(std::chrono::milliseconds(100));
        return false;
      }
      ioc_.run_one_for(ToChrono(remaining));
      if (ioc_.stopped()) ioc_.restart();
    }
    return true;
  }

  void ReadNext() {
    WithWs([this](auto& ws) {
      ws.async_read(read_buffer_, [this](const error_code& ec, size_t) { OnRead(ec); });
    });
  }

  void OnRead(const error_code& ec) {
    if (finalized_) return;
    if (ec) {
      Finalize(CloseInfoFor(ec));
      return;
    }
    // A flat buffer holds the message in one piece: parsed in place.
    const auto data = read_buffer_.data();
    auto frame = ParseFrame(absl::string_view(static_cast<const char*>(data.data()), data.size()),
                            binary_);
    read_buffer_.consume(read_buffer_.size());
    if (frame.ok()) Deliver(*frame);
    if (!finalized_) ReadNext();
  }

  void Deliver(const Frame& frame) {
    if (!detached_.load() && on_frame_) on_frame_(frame);
  }

  WsCloseInfo CloseInfoFor(const error_code& ec) {
    bool closing;
    {
      absl::MutexLock lock(&mu_);
      closing = state_ != State::kOpen;
    }
    WsCloseInfo info;
    if (ec == websocket::error::closed) {
      WithWs([&](auto& ws) {
        info.code = ws.reason().code;
        info.reason = std::string(ws.reason().reason.c_str());
      });
      info.status = closing && (info.code == 1000 || info.code == 0)
                        ? absl::OkStatus()
                        : StatusForCloseCode(info.code, info.reason);
    } else if (ec == websocket::error::message_too_big) {
      info.code = 1009;
      info.status = absl::ResourceExhaustedError(absl::StrCat(
          "a message from the server exceeded the limit of ", options_.max_message_bytes, " bytes"));
    } else {
      info.status = closing ? absl::OkStatus()
                            : absl::UnavailableError(
                                  absl::StrCat("the stream connection was lost: ", ec.message()));
    }
    return info;
  }

  void WriteNext() {
    if (finalized_) return;
    bool close_now = false;
    bool have_frame = false;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) {
        writing_ = false;
        close_now = state_ == State::kClosing;
      } else {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        have_frame = true;
      }
    }
    if (close_now) {
      StartClosingHandshake();
      return;
    }
    // Decided under the lock: once writing_ is false another thread may
    // already have started the next writer, which owns the stream now.
    if (!have_frame) return;
    WithWs([this](auto& ws) {
      ws.async_write(asio::buffer(current_), [this](const error_code& ec, size_t) {
        if (finalized_) return;
        if (ec) {
          Finalize(CloseInfoFor(ec));
          return;
        }
        WriteNext();
      });
    });
  }

  void StartClosingHandshake() {
    if (close_sent_ || finalized_) return;
    close_sent_ = true;
    WithWs([this](auto& ws) {
      ws.async_close(websocket::close_code::normal, [this](const error_code& ec) {
        if (ec && !finalized_) Finalize(WsCloseInfo{0, ec.message(), absl::OkStatus()});
      });
    });
  }

  void SchedulePing(absl::Duration after) {
    if (!Enabled(options_.ping_interval) || finalized_) return;
    uint64_t generation = ++ping_generation_;
    ping_timer_.expires_after(ToChrono(after));
    ping_timer_.async_wait([this, generation](const error_code& ec) {
      if (ec || generation != ping_generation_ || finalized_) return;
      if (awaiting_pong_) {
        Finalize(WsCloseInfo{0, "ping timeout",
                             absl::UnavailableError(absl::StrCat(
                                 "the server did not answer a ping within ",
                                 absl::FormatDuration(options_.ping_timeout)))});
        return;
      }
      if (!open()) return;
      awaiting_pong_ = true;
      ++pings_sent;
      WithWs([](auto& ws) { ws.async_ping({}, [](const error_code&) {}); });
      SchedulePing(Enabled(options_.ping_timeout) ? options_.ping_timeout : options_.ping_interval);
    });
  }

  void OnPong() {
    ++pongs_received;
    if (!awaiting_pong_) return;
    awaiting_pong_ = false;
    SchedulePing(options_.ping_interval);
  }

  void Finalize(WsCloseInfo info) {
    if (finalized_) return;
    finalized_ = true;
    {
      absl::MutexLock lock(&mu_);
      state_ = State::kClosed;
      queue_.clear();
    }
    ping_timer_.cancel();
    close_timer_.cancel();
    DropSocket();
    if (!detached_.load() && on_close_) on_close_(info);
    ioc_.stop();
  }

  WsConnectionOptions options_;
  FrameCallback on_frame_;
  CloseCallback on_close_;
  WelcomeInfo welcome_;
  asio::io_context ioc_;
  std::unique_ptr<asio::ssl::context> ssl_;
  std::optional<websocket::stream<tcp::socket>> plain_;
  std::optional<websocket::stream<asio::ssl::stream<tcp::socket>>> tls_;
  beast::flat_buffer read_buffer_;
  asio::steady_timer ping_timer_;
  asio::steady_timer close_timer_;
  std::atomic<bool> detached_{false};
  // io thread only:
  std::vector<Frame> pending_;
  // Set by Open (kei.stream.v1.proto was chosen) before the io thread starts
  // and the connection is handed out; read-only afterwards, from any thread.
  bool binary_ = false;
  std::string current_;
  bool finalized_ = false;
  bool close_sent_ = false;
  bool awaiting_pong_ = false;
  uint64_t ping_generation_ = 0;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kOpen;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<WsConnection>> WsConnection::Connect(WsConnectionOptions options,
                                                                    FrameCallback on_frame,
                                                                    CloseCallback on_close) {
  auto impl = std::make_shared<Impl>(std::move(options), std::move(on_frame), std::move(on_close));
  WelcomeInfo welcome;
  std::string subprotocol;
  if (absl::Status s = impl->Open(&welcome, &subprotocol); !s.ok()) return s;
  return std::unique_ptr<WsConnection>(
      new WsConnection(std::move(impl), std::move(welcome), std::move(subprotocol)));
}

WsConnection::WsConnection(std::shared_ptr<Impl> impl, WelcomeInfo welcome,
                           std::string subprotocol)
    : impl_(std::move(impl)), welcome_(std::move(welcome)), subprotocol_(std::move(subprotocol)) {
  io_thread_ = std::thread([impl = impl_] { impl->Run(); });
}

WsConnection::~WsConnection() {
  impl_->Detach();
  impl_->RequestClose();
  if (!io_thread_.joinable()) return;
  if (io_thread_.get_id() == std::this_thread::get_id()) {
    io_thread_.detach();  // the thread's own reference keeps the state alive
  } else {
    io_thread_.join();
  }
}

absl::Status WsConnection::Send(v1::StreamFrame frame, absl::string_view data_json) {
  return impl_->Send(std::move(frame), data_json);
}

absl::Status WsConnection::SendCall(v1::StreamFrame frame, CallMessage message) {
  return impl_->SendCall(std::move(frame), std::move(message));
}

void WsConnection::Close() {
  impl_->RequestClose();
  if (io_thread_.joinable() && io_thread_.get_id() != std::this_thread::get_id()) {
    io_thread_.join();
  }
}

bool WsConnection::open() const { return impl_->open(); }
int WsConnection::pings_sent() const { return impl_->pings_sent.load(); }
int WsConnection::pongs_received() const { return impl_->pongs_received.load(); }

}  // namespace kei::ws
