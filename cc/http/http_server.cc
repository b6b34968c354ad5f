#include "cc/http/http_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <optional>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cc/http/asio_types.h"
#include "cc/http/http_context.h"
#include "cc/http/websocket_session.h"

namespace kei::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;



struct HttpServer::State {
  State(HttpServerOptions o, std::unique_ptr<HttpRouter> r, std::atomic<int>* in_flight,
        std::atomic<int>* connections, std::atomic<int>* accepted)
      : options(std::move(o)),
        router(std::move(r)),
        acceptor(accept_io),
        ssl_context(ssl::context::tls_server),
        in_flight(in_flight),
        connections(connections),
        accepted(accepted) {}

  HttpServerOptions options;
  std::unique_ptr<HttpRouter> router;
  // One io_context per I/O thread (each run by exactly that thread), so a
  // connection's handlers never hop threads and no thread wakes another; the
  // acceptor deals connections out round-robin.
  asio::io_context accept_io{1};
  std::vector<std::unique_ptr<asio::io_context>> ios;
  // Keeps each io_context running while it has no connection.
  std::vector<asio::executor_work_guard<Executor>> keep_running;
  std::atomic<size_t> next_io{0};
  Acceptor acceptor;
  ssl::context ssl_context;
  bool tls = false;
  std::atomic<int>* in_flight;
  std::atomic<int>* connections;
  std::atomic<int>* accepted;
  std::atomic<bool> draining{false};

  // The call each connection is running (HTTP/1.1: at most one), so shutdown
  // can cancel every call in flight. A connection registers its slot once;
  // a call only touches its own slot's uncontended lock.
  struct CallSlot {
    absl::Mutex mu;
    std::optional<CancellationToken> current ABSL_GUARDED_BY(mu);
    // Shuts the connection's socket down (safe at any time, from any thread).
    std::function<void()> shutdown_socket;
  };
  absl::Mutex mu;
  std::set<CallSlot*> slots ABSL_GUARDED_BY(mu);
  std::atomic<bool> cancelling{false};

  // WebSocket connections (when enabled), so shutdown can close them with
  // 1001 and cancel their calls.
  std::unique_ptr<websocket::WsEndpoint> websocket;
  std::set<std::shared_ptr<websocket::WsConnection>> ws_connections ABSL_GUARDED_BY(mu);
  std::vector<std::shared_ptr<websocket::WsConnection>> WebSockets() {
    absl::MutexLock lock(&mu);
    return {ws_connections.begin(), ws_connections.end()};
  }

  void AddSlot(CallSlot* slot) {
    absl::MutexLock lock(&mu);
    slots.insert(slot);
  }
  void RemoveSlot(CallSlot* slot) {
    absl::MutexLock lock(&mu);
    slots.erase(slot);
  }
  void BeginCall(CallSlot& slot, const CancellationToken& token) {
    in_flight->fetch_add(1);
    {
      absl::MutexLock lock(&slot.mu);
      slot.current = token;
    }
    // A call that starts while shutdown is cancelling is cancelled too.
    if (cancelling.load()) token.Cancel();
  }
  void EndCall(CallSlot& slot) {
    {
      absl::MutexLock lock(&slot.mu);
      slot.current.reset();
    }
    in_flight->fetch_sub(1);
  }
  void CancelAll() {
    cancelling = true;
    std::vector<CancellationToken> tokens;
    {
      absl::MutexLock lock(&mu);
      for (CallSlot* slot : slots) {
        absl::MutexLock slot_lock(&slot->mu);
        if (slot->current) tokens.push_back(*slot->current);
      }
    }
    for (const auto& token : tokens) token.Cancel();  // callbacks run without our locks
    for (const auto& connection : WebSockets()) connection->Stop();
  }
  // Shuts every connection's socket down, so each session's pending read or
  // write fails and its coroutine ends.
  void ShutdownSockets() {
    absl::MutexLock lock(&mu);
    for (CallSlot* slot : slots) {
      if (slot->shutdown_socket) slot->shutdown_socket();
    }
  }
};

namespace {

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// A per-connection watchdog instead of a timer per operation: the session
// stores the current deadline (a relaxed atomic store, no timer-queue update)
// before each read or write and clears it afterwards; one steady_timer wakes at
// the deadline or at most every `tick` and, once an armed deadline has passed,
// shuts the socket down, which fails its pending operations. It holds no
// reference to the session, and the session calls Stop() before its socket is
// closed, so it never touches a closed (or reused) descriptor.
class Watchdog : public std::enable_shared_from_this<Watchdog> {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::rep kNever = std::numeric_limits<Clock::rep>::max();

  Watchdog(const Executor& executor, int fd, Clock::duration tick)
      : timer_(executor), fd_(fd), tick_(tick) {}

  static std::shared_ptr<Watchdog> Start(const Executor& executor, int fd,
                                         absl::Duration shortest_timeout) {
    auto tick = std::clamp(Chrono(shortest_timeout) / 4,
                           Clock::duration(std::chrono::milliseconds(5)),
                           Clock::duration(std::chrono::seconds(1)));
    auto watchdog = std::make_shared<Watchdog>(executor, fd, tick);
    std::lock_guard<std::mutex> lock(watchdog->mu_);
    watchdog->ArmLocked(Clock::now());
    return watchdog;
  }

  // The next operation must complete within `timeout`.
  void Expire(Clock::duration timeout) {
    deadline_.store((Clock::now() + timeout).time_since_epoch().count(),
                    std::memory_order_relaxed);
  }
  void Expire(absl::Duration timeout) { Expire(Chrono(timeout)); }
  // No operation is outstanding: no deadline.
  void Clear() { deadline_.store(kNever, std::memory_order_relaxed); }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    timer_.cancel();
  }

  // Shuts the socket down now (unless the session already stopped the
  // watchdog, after which the descriptor may belong to someone else).
  void ShutdownSocket() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopped_) ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  void ArmLocked(Clock::time_point now) {
    Clock::rep deadline = deadline_.load(std::memory_order_relaxed);
    Clock::time_point next = now + tick_;
    if (deadline != kNever && deadline > now.time_since_epoch().count()) {
      next = std::min(next, Clock::time_point(Clock::duration(deadline)));
    }
    timer_.expires_at(next);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
      self->OnTimer();
    });
  }

  void OnTimer() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    auto now = Clock::now();
    Clock::rep deadline = deadline_.load(std::memory_order_relaxed);
    if (deadline != kNever && deadline <= now.time_since_epoch().count()) {
      ::shutdown(fd_, SHUT_RDWR);
      deadline_.store(kNever, std::memory_order_relaxed);
    }
    ArmLocked(now);
  }

  std::atomic<Clock::rep> deadline_{kNever};
  std::mutex mu_;
  Timer timer_;
  int fd_;
  Clock::duration tick_;
  bool stopped_ = false;
};

// Stops a watchdog when the session's scope ends (before its socket closes).
struct StopWatchdog {
  std::shared_ptr<Watchdog> watchdog;
  ~StopWatchdog() { watchdog->Stop(); }
};

std::string PeerName(const Socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "";
  auto address = endpoint.address();
  return absl::StrCat(address.is_v6() ? "ipv6:[" : "ipv4:", address.to_string(),
                      address.is_v6() ? "]:" : ":", endpoint.port());
}

// The identity in a verified client certificate, if any.
Identity PeerIdentity(SSL* ssl) {
  Identity identity;
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return identity;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return identity;
  char cn[256] = {0};
  X509_NAME* subject = X509_get_subject_name(cert);
  if (X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof(cn)) > 0) {
    identity.scheme = "mtls";
    identity.subject = cn;
    char* line = X509_NAME_oneline(subject, nullptr, 0);
    if (line != nullptr) {
      identity.attributes["x509_subject"] = line;
      OPENSSL_free(line);
    }
  }
  X509_free(cert);
  return identity;
}

HttpRequest ToRequest(bhttp::request<bhttp::string_body>& raw) {
  HttpRequest request;
  request.method = std::string(raw.method_string());
  absl::string_view target(raw.target().data(), raw.target().size());
  auto q = target.find('?');
  request.path = std::string(target.substr(0, q));
  if (q != absl::string_view::npos) request.query = std::string(target.substr(q + 1));
  for (const auto& field : raw) {
    request.headers.emplace(
        absl::AsciiStrToLower(absl::string_view(field.name_string().data(), field.name_string().size())),
        std::string(field.value()));
  }
  request.body = std::move(raw.body());
  return request;
}

bool IsWebSocketPath(const bhttp::request<bhttp::string_body>& raw, const std::string& path) {
  absl::string_view target(raw.target().data(), raw.target().size());
  return !path.empty() && target.substr(0, target.find('?')) == path;
}

// Writes a complete response; false if the write failed.
template <class Stream>
Awaitable<bool> WriteResponse(Stream& stream, Watchdog& watchdog,
                                    HttpResponse response,
                                    unsigned version, bool keep_alive, bool head,
                                    absl::Duration timeout) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
  res.set(bhttp::field::server, "keid");
  for (const auto& [name, value] : response.headers) res.insert(name, value);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) res.body().clear();
  watchdog.Expire(timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple);
  watchdog.Clear();
  co_return !ec;
}

// A ResponseWriter for a worker thread: every write is performed by the
// session's executor (so the socket is only ever used there) with the write
// timeout, and the worker waits for its outcome.
template <class Stream>
class ChunkedWriter final : public ResponseWriter {
 public:
  ChunkedWriter(Stream& stream, Watchdog& watchdog, Executor executor,
                unsigned version, absl::Duration timeout)
      : stream_(stream),
        watchdog_(watchdog),
        executor_(std::move(executor)),
        version_(version),
        timeout_(timeout) {}

  bool Start(int status, const HeaderList& headers) override {
    if (failed_) return false;
    header_.result(static_cast<bhttp::status>(status));
    header_.version(version_);
    header_.set(bhttp::field::server, "keid");
    for (const auto& [name, value] : headers) header_.insert(name, value);
    header_.chunked(true);
    serializer_.emplace(header_);
    return Run([this](auto done) {
      bhttp::async_write_header(stream_, *serializer_,
                                [done](beast::error_code ec, size_t) { done(!ec); });
    });
  }
  bool Write(absl::string_view data) override {
    if (failed_ || data.empty()) return !failed_;
    return Run([this, data](auto done) {
      asio::async_write(stream_, bhttp::make_chunk(asio::buffer(data.data(), data.size())),
                        [done](beast::error_code ec, size_t) { done(!ec); });
    });
  }
  bool Finish() {
    if (!serializer_) failed_ = true;  // nothing was sent: the connection cannot go on
    if (failed_) return false;
    return Run([this](auto done) {
      asio::async_write(stream_, bhttp::make_chunk_last(),
                        [done](beast::error_code ec, size_t) { done(!ec); });
    });
  }
  bool failed() const { return failed_; }

 private:
  template <class Op>
  bool Run(Op op) {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    asio::post(executor_, [this, op, promise] {
      watchdog_.Expire(timeout_);
      op([this, promise](bool ok) {
        watchdog_.Clear();
        promise->set_value(ok);
      });
    });
    // The write has its own timeout; this bound only matters if the server
    // stopped its I/O threads first.
    if (future.wait_for(Chrono(timeout_ + absl::Seconds(1))) != std::future_status::ready ||
        !future.get()) {
      failed_ = true;
    }
    return !failed_;
  }

  Stream& stream_;
  Watchdog& watchdog_;
  Executor executor_;
  unsigned version_;
  absl::Duration timeout_;
  bhttp::response<bhttp::empty_body> header_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> serializer_;
  bool failed_ = false;
};

// Runs a streaming call on a worker thread; returns whether the connection
// can be kept alive afterwards.
template <class Stream>
Awaitable<bool> RunStreaming(Stream& stream, Watchdog& watchdog, const StreamingCall& call,
                                   unsigned version, absl::Duration write_timeout) {
  auto executor = co_await asio::this_coro::executor;
  auto writer = std::make_shared<ChunkedWriter<Stream>>(stream, watchdog, executor, version,
                                                       write_timeout);
  auto done = std::make_shared<Timer>(executor,
                                                   std::chrono::steady_clock::time_point::max());
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread([writer, done, finished, call, executor] {
    call(*writer);
    writer->Finish();
    asio::post(executor, [done, finished] {
      finished->store(true);
      done->cancel();
    });
  }).detach();
  while (!finished->load()) co_await done->async_wait(kTuple);
  co_return !writer->failed();
}

template <class Stream>
Awaitable<void> Serve(std::shared_ptr<HttpServer::State> state, Stream& stream,
                            Watchdog& watchdog, std::string peer, Identity identity) {
  const HttpServerOptions& options = state->options;
  HttpServer::State::CallSlot slot;
  slot.shutdown_socket = [w = std::weak_ptr<Watchdog>(watchdog.shared_from_this())] {
    if (auto watchdog = w.lock()) watchdog->ShutdownSocket();
  };
  state->AddSlot(&slot);
  // Set when the client upgraded to WebSocket.
  std::optional<std::pair<bhttp::request<bhttp::string_body>, websocket::WsConnection::Peer>>
      upgrade;
  struct RemoveSlot {
    HttpServer::State* state;
    HttpServer::State::CallSlot* slot;
    ~RemoveSlot() { state->RemoveSlot(slot); }
  } remove_slot{state.get(), &slot};
  beast::flat_buffer buffer;
  // Set when the connection is answered and closed before the client finished
  // sending its request (413, 431, 400): its remaining input is drained briefly
  // so the client can read the answer instead of getting a reset.
  bool linger = false;
  while (!state->draining.load()) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    watchdog.Expire(options.read_timeout);
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    watchdog.Clear();
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      bool body = ec == bhttp::error::body_limit;
      HttpResponse response = ErrorResponse(absl::ResourceExhaustedError(
          body ? absl::StrCat("request body exceeds ", options.max_body_bytes, " bytes")
               : absl::StrCat("request head exceeds ", options.max_header_bytes, " bytes")));
      response.status = body ? 413 : 431;
      co_await WriteResponse(stream, watchdog, std::move(response), 11, false, false, options.write_timeout);
      linger = true;
      break;
    }
    if (ec) {
      // A request that does not parse gets a 400; a closed or idle connection
      // just ends.
      if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        HttpResponse response = ErrorResponse(
            absl::InvalidArgumentError(absl::StrCat("malformed HTTP request: ", ec.message())));
        co_await WriteResponse(stream, watchdog, std::move(response), 11, false, false, options.write_timeout);
        linger = true;
      }
      break;
    }
    auto& raw = parser.get();
    unsigned version = raw.version();
    bool keep_alive = raw.keep_alive() && !state->draining.load();
    bool head = raw.method() == bhttp::verb::head;
    if (state->websocket && IsWebSocketPath(raw, state->websocket->options.path)) {
      if (!beast::websocket::is_upgrade(raw)) {
        HttpResponse response = ErrorResponse(absl::FailedPreconditionError(
            "this path speaks the KEI stream protocol over WebSocket: send an upgrade"));
        response.status = 426;
        response.headers.emplace_back("upgrade", "websocket");
        if (!co_await WriteResponse(stream, watchdog, std::move(response), version, keep_alive,
                                    head, options.write_timeout) ||
            !keep_alive) {
          break;
        }
        continue;
      }
      HttpRequest request = ToRequest(raw);
      websocket::WsConnection::Peer ws_peer{std::move(request.headers), peer, identity};
      if (absl::Status admitted = websocket::WsConnection::Admit(*state->websocket, ws_peer);
          !admitted.ok()) {
        HttpResponse refused = ErrorResponse(admitted);
        co_await WriteResponse(stream, watchdog, std::move(refused), version, false, false,
                               options.write_timeout);
        break;
      }
      // Served after this loop, once the parser and its buffers are gone: a
      // WebSocket connection may live for days.
      upgrade.emplace(parser.release(), std::move(ws_peer));
      break;
    }
    HttpRequest request = ToRequest(raw);
    request.peer = peer;
    request.transport_identity = identity;
    request.tls = state->tls;
    state->BeginCall(slot, request.cancellation);
    HttpResult result = state->router->Route(std::move(request));
    bool ok;
    if (result.streaming) {
      ok = co_await RunStreaming(stream, watchdog, result.streaming, version,
                                 options.write_timeout);
    } else {
      ok = co_await WriteResponse(stream, watchdog, std::move(result.response), version, keep_alive, head,
                                  options.write_timeout);
    }
    state->EndCall(slot);
    if (!ok || !keep_alive) break;
  }
  if (upgrade) {
    buffer = beast::flat_buffer();  // release the HTTP read buffer
    auto* s = state.get();
    // Named, not temporaries in the co_await expression: GCC 12 destroys
    // such temporaries twice, which corrupts the captured smart pointers.
    auto register_connection = [s](const std::shared_ptr<websocket::WsConnection>& connection) {
      absl::MutexLock lock(&s->mu);
      s->ws_connections.insert(connection);
    };
    auto unregister_connection = [s](const std::shared_ptr<websocket::WsConnection>& connection) {
      absl::MutexLock lock(&s->mu);
      s->ws_connections.erase(connection);
    };
    auto expire = [w = std::weak_ptr<Watchdog>(watchdog.shared_from_this())](
                      std::chrono::steady_clock::duration d) {
      if (auto watchdog = w.lock()) watchdog->Expire(d);
    };
    co_await ServeWebSocket(*state->websocket, stream, std::move(upgrade->first),
                            std::move(upgrade->second), register_connection,
                            unregister_connection, expire);
    upgrade.reset();
  }
  beast::error_code ignored;
  if constexpr (std::is_same_v<Stream, Socket>) {
    stream.shutdown(Socket::shutdown_send, ignored);
    if (linger) {
      // Read and drop up to 8 MiB for up to a second, until the client stops.
      // (On the heap: an array here would sit in every session's coroutine
      // frame for the connection's whole life.)
      constexpr size_t kDiscardBytes = 16384;
      auto discard = std::make_unique<char[]>(kDiscardBytes);
      size_t total = 0;
      watchdog.Expire(std::chrono::seconds(1));
      while (total < (8u << 20)) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(discard.get(), kDiscardBytes),
                                                       kTuple);
        if (ec) break;
        total += n;
      }
      watchdog.Clear();
    }
  } else {
    watchdog.Expire(std::chrono::seconds(2));
    co_await stream.async_shutdown(kTuple);
    watchdog.Clear();
  }
}

Awaitable<void> Session(std::shared_ptr<HttpServer::State> state, Socket socket) {
  std::string peer = PeerName(socket);
  state->connections->fetch_add(1);
  state->accepted->fetch_add(1);
  struct Leave {
    std::atomic<int>* c;
    ~Leave() { c->fetch_sub(1); }
  } leave{state->connections};
  const HttpServerOptions& options = state->options;
  auto executor = co_await asio::this_coro::executor;
  if (state->connections->load() > options.max_connections) {
    Socket stream(std::move(socket));
    StopWatchdog watchdog{Watchdog::Start(executor, stream.native_handle(), absl::Seconds(2))};
    HttpResponse response = ErrorResponse(absl::UnavailableError(
        absl::StrCat("server is at its limit of ", options.max_connections, " connections")));
    co_await WriteResponse(stream, *watchdog.watchdog, std::move(response), 11, false, false,
                           absl::Seconds(2));
    co_return;
  }
  // The watchdog's tick (a quarter of this, at most a second) bounds how late
  // a deadline set while it sleeps is noticed.
  absl::Duration shortest = std::min(options.read_timeout, options.write_timeout);
  if (!state->tls) {
    Socket stream(std::move(socket));
    StopWatchdog watchdog{Watchdog::Start(executor, stream.native_handle(), shortest)};
    Identity anonymous;  // named: see the note on co_await temporaries in Serve
    co_await Serve(state, stream, *watchdog.watchdog, peer, anonymous);
    co_return;
  }
  beast::ssl_stream<Socket> stream(std::move(socket), state->ssl_context);
  StopWatchdog watchdog{
      Watchdog::Start(executor, beast::get_lowest_layer(stream).native_handle(), shortest)};
  watchdog.watchdog->Expire(options.read_timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  watchdog.watchdog->Clear();
  if (ec) co_return;
  Identity identity = PeerIdentity(stream.native_handle());
  co_await Serve(state, stream, *watchdog.watchdog, peer, identity);
}

Awaitable<void> Accept(std::shared_ptr<HttpServer::State> state) {
  for (;;) {
    asio::io_context& io = *state->ios[state->next_io++ % state->ios.size()];
    auto [ec, socket] = co_await state->acceptor.async_accept(io.get_executor(), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) co_return;
      continue;  // e.g. EMFILE: keep accepting
    }
    socket.set_option(tcp::no_delay(true), ec);
    // No strand: a session is one coroutine, and a streaming worker only posts
    // writes while that coroutine waits, so nothing runs concurrently on it.
    asio::co_spawn(io, Session(state, std::move(socket)),
                   asio::detached);
  }
}

absl::StatusOr<tcp::endpoint> ParseAddress(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("http address '", address, "' needs host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http address '", address, "': bad port"));
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("http address '", address, "': '", host, "' is not an IP address"));
  }
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, std::unique_ptr<HttpRouter> router)
    : options_(std::move(options)),
      state_(std::make_shared<State>(options_, std::move(router), &in_flight_, &connections_,
                                      &accepted_)) {}

HttpServer::~HttpServer() { Shutdown(absl::ZeroDuration()); }

absl::Status HttpServer::Start() {
  if (started_) return absl::FailedPreconditionError("HTTP server already started");
  auto endpoint = ParseAddress(options_.address);
  if (!endpoint.ok()) return endpoint.status();
  if (options_.tls.enabled()) {
    if (options_.tls.cert_file.empty() || options_.tls.key_file.empty()) {
      return absl::InvalidArgumentError("tls: both cert_file and key_file are required");
    }
    boost::system::error_code ec;
    auto& ctx = state_->ssl_context;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain_file(options_.tls.cert_file, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("tls.cert_file: ", ec.message()));
    ctx.use_private_key_file(options_.tls.key_file, ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("tls.key_file: ", ec.message()));
    if (!options_.tls.client_ca_file.empty()) {
      ctx.load_verify_file(options_.tls.client_ca_file, ec);
      if (ec) return absl::InvalidArgumentError(absl::StrCat("tls.client_ca_file: ", ec.message()));
      ctx.set_verify_mode(ssl::verify_peer | (options_.tls.require_client_cert
                                                  ? ssl::verify_fail_if_no_peer_cert
                                                  : 0));
    }
    state_->tls = true;
  }
  boost::system::error_code ec;
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.address, ": ", ec.message()));
  }
  port_ = acceptor.local_endpoint().port();
  int threads = options_.io_threads > 0
                    ? options_.io_threads
                    : std::max(16, 4 * static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    state_->ios.push_back(std::make_unique<asio::io_context>(1));
    state_->keep_running.push_back(asio::make_work_guard(state_->ios.back()->get_executor()));
  }
  asio::co_spawn(state_->accept_io, Accept(state_), asio::detached);
  threads_.emplace_back([state = state_] { state->accept_io.run(); });
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([io = state_->ios[i].get()] { io->run(); });
  }
  started_ = true;
  return absl::OkStatus();
}

std::string HttpServer::target() const {
  std::string host = options_.address.substr(0, options_.address.rfind(':'));
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return absl::StrCat(host, ":", port_);
}

void HttpServer::EnableWebSocket(websocket::WsEndpoint endpoint) {
  endpoint.in_flight = &in_flight_;
  state_->websocket = std::make_unique<websocket::WsEndpoint>(std::move(endpoint));
}

void HttpServer::Shutdown(absl::Duration grace) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  state_->draining = true;
  // No new connections: close the acceptor on its thread and wait for that.
  auto closed = std::make_shared<std::promise<void>>();
  auto acceptor_closed = closed->get_future();
  asio::post(state_->accept_io, [state = state_, closed] {
    boost::system::error_code ec;
    state->acceptor.close(ec);
    closed->set_value();
  });
  acceptor_closed.wait_for(std::chrono::seconds(2));
  for (const auto& connection : state_->WebSockets()) {
    connection->queue().Close(1001, "server shutting down");
  }
  absl::Time deadline = absl::Now() + grace;
  while (in_flight_.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  state_->CancelAll();
  absl::Time cancel_deadline = absl::Now() + absl::Seconds(2);
  while (in_flight_.load() > 0 && absl::Now() < cancel_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Give WebSocket clients a moment to answer the close frame, then end every
  // connection still open (idle keep-alive ones included), so every session
  // coroutine finishes and releases its socket before the threads stop.
  absl::Time close_deadline = absl::Now() + absl::Milliseconds(500);
  while (!state_->WebSockets().empty() && absl::Now() < close_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  state_->ShutdownSockets();
  absl::Time sessions_deadline = absl::Now() + absl::Seconds(2);
  while (connections_.load() > 0 && absl::Now() < sessions_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  state_->accept_io.stop();
  for (auto& io : state_->ios) io->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace kei::http
