#include "clients/http/http_client.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clients/ssl_client_context.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace kei::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

absl::string_view View(beast::string_view s) { return absl::string_view(s.data(), s.size()); }
beast::string_view BView(absl::string_view s) { return beast::string_view(s.data(), s.size()); }

// ---- URLs --------------------------------------------------------------------------

struct Url {
  bool tls = false;
  std::string host;  // without brackets
  int port = 0;
  std::string target;  // "/path?query"

  bool ip_literal() const {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
  }
  std::string authority() const {
    std::string h = host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
    return absl::StrCat(h, ":", port);
  }
  std::string host_header() const {
    std::string h = host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
    if ((tls && port == 443) || (!tls && port == 80)) return h;
    return absl::StrCat(h, ":", port);
  }
  std::string pool_key() const { return absl::StrCat(tls ? "https://" : "http://", authority()); }
};

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  Url url;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad URL '", text, "': ", why));
  };
  absl::string_view rest = text;
  auto sep = rest.find("://");
  if (sep == absl::string_view::npos) return bad("no scheme (http:// or https://)");
  std::string scheme = absl::AsciiStrToLower(rest.substr(0, sep));
  if (scheme == "https") url.tls = true;
  else if (scheme != "http") return bad("scheme must be http or https");
  rest.remove_prefix(sep + 3);
  auto path_start = rest.find_first_of("/?#");
  absl::string_view authority = rest.substr(0, path_start);
  absl::string_view target =
      path_start == absl::string_view::npos ? absl::string_view() : rest.substr(path_start);
  if (auto hash = target.find('#'); hash != absl::string_view::npos) target = target.substr(0, hash);
  url.target = target.empty() || target.front() != '/' ? absl::StrCat("/", target)
                                                       : std::string(target);
  if (auto at = authority.rfind('@'); at != absl::string_view::npos) {
    return bad("user info in URLs is not supported; use headers");
  }
  url.port = url.tls ? 443 : 80;
  absl::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == absl::string_view::npos) return bad("unclosed '['");
    url.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ']'");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    if (!absl::SimpleAtoi(port_text, &url.port) || url.port <= 0 || url.port > 65535) {
      return bad("bad port");
    }
  }
  return url;
}

// ---- One connection ----------------------------------------------------------------

// A TCP (or TLS) connection and the io_context its operations run on. Used by
// one thread at a time: whoever leased it from the pool.
class Connection {
 public:
  Connection(std::string key, asio::ssl::context* ssl_context) : key_(std::move(key)) {
    if (ssl_context != nullptr) {
      tls_.emplace(ioc_, *ssl_context);
    } else {
      plain_.emplace(ioc_);
    }
  }
  ~Connection() { Close(); }

  const std::string& key() const { return key_; }
  asio::io_context& ioc() { return ioc_; }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  asio::ssl::stream<tcp::socket>* tls() { return tls_ ? &*tls_ : nullptr; }
  beast::flat_buffer& buffer() { return buffer_; }

  template <class Fn>
  void WithStream(Fn&& fn) {
    if (tls_) fn(*tls_);
    else fn(*plain_);
  }

  void Close() {
    error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

  // Runs the io_context until `done` or the deadline. On the deadline (or
  // `cancelled`) it runs `abort` (default: close the socket), lets the aborted
  // handlers finish and returns false.
  bool Run(const bool& done, absl::Time deadline, const std::function<void()>& abort = {}) {
    ioc_.restart();
    while (!done) {
      size_t ran;
      if (deadline == absl::InfiniteFuture()) {
        ran = ioc_.run_one();
      } else {
        absl::Duration remaining = deadline - absl::Now();
        if (remaining <= absl::ZeroDuration()) break;
        ran = ioc_.run_one_for(absl::ToChronoNanoseconds(remaining));
      }
      if (ran == 0 && ioc_.stopped()) break;
    }
    if (done) return true;
    if (abort) abort();
    Close();
    ioc_.restart();
    ioc_.run();
    return false;
  }

  // An idle pooled connection the server has closed (or sent stray bytes on)
  // must not carry a request.
  bool LooksAlive() {
    if (buffer_.size() > 0 || !socket().is_open()) return false;
    char byte;
    ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }

  absl::Time idle_since = absl::InfinitePast();
  int requests_served = 0;

 private:
  std::string key_;
  asio::io_context ioc_{1};
  std::optional<tcp::socket> plain_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  beast::flat_buffer buffer_;
};

// ---- The pool ----------------------------------------------------------------------

// Connections by "scheme://host:port": idle ones reused last-in first-out,
// bounded in all and per host. Acquire hands out either an idle connection or
// a slot to open a new one in; callers wait (until their deadline) when both
// limits are reached and nothing is idle.
class ConnectionPool {
 public:
  ConnectionPool(int max_total, int max_per_host, absl::Duration idle_timeout)
      : max_total_(std::max(1, max_total)),
        max_per_host_(std::max(1, max_per_host)),
        idle_timeout_(idle_timeout) {}

  // OK with a connection (reused) or with nullptr (open one; the slot is
  // counted). DEADLINE_EXCEEDED when no slot frees up in time.
  absl::StatusOr<std::unique_ptr<Connection>> Acquire(const std::string& key,
                                                      absl::Time deadline, bool fresh) {
    std::vector<std::unique_ptr<Connection>> to_close;
    absl::MutexLock lock(&mu_);
    while (true) {
      Host& host = hosts_[key];
      absl::Time now = absl::Now();
      while (!host.idle.empty()) {
        std::unique_ptr<Connection> conn = std::move(host.idle.back());
        host.idle.pop_back();
        --idle_total_;
        if (!fresh && now - conn->idle_since < idle_timeout_ && conn->LooksAlive()) {
          return conn;
        }
        // Stale, expired or unwanted: its slot goes to a new connection.
        to_close.push_back(std::move(conn));
        --host.open;
        --total_;
      }
      if (host.open < max_per_host_ && total_ < max_total_) {
        ++host.open;
        ++total_;
        return std::unique_ptr<Connection>();
      }
      if (host.open < max_per_host_ && EvictIdleElsewhere(key, &to_close)) continue;
      if (released_.WaitWithDeadline(&mu_, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat(
            "timed out waiting for a free connection to ", key, " (", host.open,
            " open to it, ", total_, " in all)"));
      }
    }
  }

  // Returns a leased connection (reusable) or gives up its slot (conn null or
  // not reusable).
  void Release(const std::string& key, std::unique_ptr<Connection> conn, bool reusable) {
    // `conn`, when not pooled, closes after the lock is released.
    absl::MutexLock lock(&mu_);
    Host& host = hosts_[key];
    if (conn != nullptr && reusable) {
      conn->idle_since = absl::Now();
      host.idle.push_back(std::move(conn));
      ++idle_total_;
    } else {
      --host.open;
      --total_;
    }
    released_.SignalAll();
  }

  int open() const {
    absl::MutexLock lock(&mu_);
    return total_;
  }
  int idle() const {
    absl::MutexLock lock(&mu_);
    return idle_total_;
  }

 private:
  struct Host {
    int open = 0;  // idle + leased + being opened
    std::vector<std::unique_ptr<Connection>> idle;
  };

  bool EvictIdleElsewhere(const std::string& key, std::vector<std::unique_ptr<Connection>>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Host* oldest_host = nullptr;
    for (auto& [k, host] : hosts_) {
      if (k == key || host.idle.empty()) continue;
      if (oldest_host == nullptr ||
          host.idle.front()->idle_since < oldest_host->idle.front()->idle_since) {
        oldest_host = &host;
      }
    }
    if (oldest_host == nullptr) return false;
    out->push_back(std::move(oldest_host->idle.front()));
    oldest_host->idle.erase(oldest_host->idle.begin());
    --oldest_host->open;
    --total_;
    --idle_total_;
    return true;
  }

  const int max_total_;
  const int max_per_host_;
  const absl::Duration idle_timeout_;
  mutable absl::Mutex mu_;
  std::map<std::string, Host> hosts_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  int idle_total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar released_;
};

std::string ErrorText(const error_code& ec) { return ec.message(); }

Headers ToHeaders(const bhttp::fields& fields) {
  Headers headers;
  for (const auto& field : fields) {
    headers.emplace(absl::AsciiStrToLower(View(field.name_string())),
                    std::string(View(field.value())));
  }
  return headers;
}

nlohmann::json ParseJsonOrRaw(const std::string& body) {
  if (body.empty()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return nlohmann::json(body);
  return parsed;
}

bool RetryableStatus(int status) { return status >= 500 && status != 501 && status != 505; }

}  // namespace

// ---- Free helpers --------------------------------------------------------------------

bool IsIdempotentMethod(absl::string_view method) {
  std::string m = absl::AsciiStrToUpper(method);
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
         m == "TRACE";
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  // HTTP-date (IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
  absl::string_view date = value;
  if (absl::EndsWith(date, " GMT")) date.remove_suffix(4);
  absl::Time when;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S", std::string(date), absl::UTCTimeZone(), &when,
                       &error)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), when - now);
}

std::string HttpResponse::header(absl::string_view name) const {
  auto it = headers.find(absl::AsciiStrToLower(name));
  return it == headers.end() ? std::string() : it->second;
}

// ---- The client ------------------------------------------------------------------------

class HttpClient::Impl : public std::enable_shared_from_this<HttpClient::Impl> {
 public:
  explicit Impl(HttpClientOptions options)
      : options_(std::move(options)),
        pool_(options_.max_connections, options_.max_connections_per_host,
              options_.idle_timeout) {}

  absl::Status Init() {
    const HttpTlsOptions& tls = options_.tls;
    auto context = MakeSslClientContext(
        SslClientFiles{tls.verify, tls.ca_file, tls.cert_file, tls.key_file});
    if (!context.ok()) return context.status();
    ssl_ = *std::move(context);
    return absl::OkStatus();
  }

  const HttpClientOptions& options() const { return options_; }
  ConnectionPool& pool() { return pool_; }

  absl::Time DeadlineFor(const RequestOptions& options, bool stream) const {
    absl::Time deadline = options.deadline;
    std::optional<absl::Duration> timeout = options.timeout;
    if (!timeout.has_value() && !stream) timeout = options_.timeout;
    if (timeout.has_value() && *timeout != absl::InfiniteDuration()) {
      deadline = std::min(deadline, absl::Now() + *timeout);
    }
    return deadline;
  }

  bhttp::request<bhttp::string_body> BuildRequest(const HttpRequest& request, const Url& url) const {
    bhttp::request<bhttp::string_body> req;
    req.version(11);
    std::string method = absl::AsciiStrToUpper(request.method);
    bhttp::verb verb = bhttp::string_to_verb(BView(method));
    if (verb == bhttp::verb::unknown) req.method_string(BView(method));
    else req.method(verb);
    req.target(BView(url.target));
    req.set(bhttp::field::host, BView(url.host_header()));
    if (!options_.user_agent.empty()) req.set(bhttp::field::user_agent, BView(options_.user_agent));
    const std::string& token = request.options.bearer_token.has_value()
                                   ? *request.options.bearer_token
                                   : options_.bearer_token;
    if (!token.empty()) req.set(bhttp::field::authorization, BView(absl::StrCat("Bearer ", token)));
    for (const auto& [name, value] : options_.default_headers) {
      if (request.headers.count(absl::AsciiStrToLower(name)) == 0) {
        req.insert(BView(name), BView(value));
      }
    }
    std::string last;
    for (const auto& [name, value] : request.headers) {
      // Request headers replace defaults (and the bearer token's header) of the same name.
      std::string lower = absl::AsciiStrToLower(name);
      if (lower != last) req.erase(BView(lower));
      last = lower;
      req.insert(BView(lower), BView(value));
    }
    req.body() = request.body;
    if (!request.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put ||
        verb == bhttp::verb::patch) {
      req.prepare_payload();
    }
    return req;
  }

  // The outcome of one attempt.
  struct Attempt {
    absl::Status status;  // a transport error; OK when a response arrived
    bool reached_server = true;
    // A reused connection failed before any response byte: redo once on a
    // fresh connection if the request is safe to repeat (`nothing_written`
    // makes any request safe).
    bool stale = false;
    bool nothing_written = false;
    // Retrying cannot help (timeout, certificate, size limit).
    bool permanent = false;
    bool opened_connection = false;
  };

  // Leases a connection, opening one if needed. On error the slot is given back.
  absl::StatusOr<std::unique_ptr<Connection>> Connect(const Url& url, absl::Time deadline,
                                                      bool fresh, Attempt* attempt) {
    std::string key = url.pool_key();
    auto leased = pool_.Acquire(key, deadline, fresh);
    if (!leased.ok()) {
      attempt->reached_server = false;
      attempt->permanent = true;
      return leased.status();
    }
    if (*leased != nullptr) return std::move(*leased);
    attempt->opened_connection = true;
    auto conn = std::make_unique<Connection>(key, url.tls ? ssl_.get() : nullptr);
    absl::Status status = Open(*conn, url, deadline, attempt);
    if (!status.ok()) {
      attempt->reached_server = false;
      pool_.Release(key, nullptr, false);
      return status;
    }
    return conn;
  }

  absl::Status Open(Connection& conn, const Url& url, absl::Time deadline, Attempt* attempt) {
    // Resolve.
    std::vector<tcp::endpoint> endpoints;
    error_code ec;
    asio::ip::address address = asio::ip::make_address(url.host, ec);
    if (!ec) {
      endpoints.emplace_back(address, static_cast<unsigned short>(url.port));
    } else {
      tcp::resolver resolver(conn.ioc());
      bool done = false;
      resolver.async_resolve(url.host, std::to_string(url.port),
                             [&](const error_code& e, tcp::resolver::results_type results) {
                               ec = e;
                               for (const auto& entry : results) endpoints.push_back(entry.endpoint());
                               done = true;
                             });
      if (!conn.Run(done, deadline, [&] { resolver.cancel(); })) {
        attempt->permanent = true;
        return absl::DeadlineExceededError(absl::StrCat("timed out resolving ", url.host));
      }
      if (ec || endpoints.empty()) {
        return absl::UnavailableError(
            absl::StrCat("cannot resolve ", url.host, ": ", ec ? ErrorText(ec) : "no addresses"));
      }
    }
    // Connect.
    {
      bool done = false;
      asio::async_connect(conn.socket(), endpoints,
                          [&](const error_code& e, const tcp::endpoint&) {
                            ec = e;
                            done = true;
                          });
      if (!conn.Run(done, deadline)) {
        attempt->permanent = true;
        return absl::DeadlineExceededError(
            absl::StrCat("timed out connecting to ", url.authority()));
      }
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("cannot connect to ", url.authority(), ": ", ErrorText(ec)));
      }
      conn.socket().set_option(tcp::no_delay(true), ec);
    }
    // TLS.
    if (auto* tls = conn.tls()) {
      const std::string& name =
          options_.tls.server_name_override.empty() ? url.host : options_.tls.server_name_override;
      error_code parse_ec;
      bool name_is_ip = (asio::ip::make_address(name, parse_ec), !parse_ec);
      SSL* ssl = tls->native_handle();
      if (!name_is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
      if (options_.tls.verify) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                            : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
        if (ok != 1) return absl::InvalidArgumentError(absl::StrCat("bad TLS name '", name, "'"));
      }
      bool done = false;
      tls->async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) {
        ec = e;
        done = true;
      });
      if (!conn.Run(done, deadline)) {
        attempt->permanent = true;
        return absl::DeadlineExceededError(
            absl::StrCat("timed out in the TLS handshake with ", url.authority()));
      }
      if (ec) {
        long verify = SSL_get_verify_result(ssl);
        if (options_.tls.verify && verify != X509_V_OK) {
          attempt->permanent = true;
          return absl::UnavailableError(absl::StrCat(
              "TLS certificate verification of ", url.authority(), " (as '", name,
              "') failed: ", X509_verify_cert_error_string(verify)));
        }
        return absl::UnavailableError(
            absl::StrCat("TLS handshake with ", url.authority(), " failed: ", ErrorText(ec)));
      }
    }
    return absl::OkStatus();
  }

  // Writes the request on `conn`. Errors fill `attempt`.
  absl::Status Write(Connection& conn, bhttp::request<bhttp::string_body>& req, const Url& url,
                     absl::Time deadline, bool reused, Attempt* attempt) {
    bool done = false;
    error_code ec;
    size_t written = 0;
    conn.WithStream([&](auto& stream) {
      bhttp::async_write(stream, req, [&](const error_code& e, size_t n) {
        ec = e;
        written = n;
        done = true;
      });
    });
    if (!conn.Run(done, deadline)) {
      attempt->permanent = true;
      return absl::DeadlineExceededError(
          absl::StrCat("timed out sending the request to ", url.authority()));
    }
    if (ec) {
      attempt->nothing_written = written == 0;
      attempt->reached_server = written > 0;
      attempt->stale = reused;
      return absl::UnavailableError(
          absl::StrCat("sending the request to ", url.authority(), " failed: ", ErrorText(ec)));
    }
    return absl::OkStatus();
  }

  template <class Parser>
  absl::Status ReadHeaderOrAll(Connection& conn, Parser& parser, bool header_only, const Url& url,
                               absl::Time deadline, bool reused, Attempt* attempt) {
    bool done = false;
    error_code ec;
    conn.WithStream([&](auto& stream) {
      auto handler = [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      };
      if (header_only) bhttp::async_read_header(stream, conn.buffer(), parser, handler);
      else bhttp::async_read(stream, conn.buffer(), parser, handler);
    });
    if (!conn.Run(done, deadline)) {
      attempt->permanent = true;
      return absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for the response from ", url.authority()));
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
        ec == bhttp::error::buffer_overflow) {
      attempt->permanent = true;
      return absl::ResourceExhaustedError(absl::StrCat(
          "response from ", url.authority(), " exceeds the limit of ",
          ec == bhttp::error::body_limit ? options_.max_response_bytes : options_.max_header_bytes,
          " bytes (", ErrorText(ec), ")"));
    }
    if (ec) {
      attempt->stale = reused && !parser.got_some();
      return absl::UnavailableError(absl::StrCat("reading the response from ", url.authority(),
                                                 " failed: ", ErrorText(ec)));
    }
    return absl::OkStatus();
  }

  // One attempt of a buffered request.
  absl::StatusOr<HttpResponse> RunAttempt(const HttpRequest& request, const Url& url,
                                          bhttp::request<bhttp::string_body>& req,
                                          absl::Time deadline, bool fresh, Attempt* attempt) {
    auto leased = Connect(url, deadline, fresh, attempt);
    if (!leased.ok()) return leased.status();
    std::unique_ptr<Connection> conn = *std::move(leased);
    bool reused = conn->requests_served > 0;
    auto fail = [&](absl::Status status) {
      std::string key = conn->key();
      pool_.Release(key, std::move(conn), false);
      return status;
    };
    if (absl::Status s = Write(*conn, req, url, deadline, reused, attempt); !s.ok()) {
      return fail(s);
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    if (req.method() == bhttp::verb::head) parser.skip(true);
    if (absl::Status s =
            ReadHeaderOrAll(*conn, parser, /*header_only=*/false, url, deadline, reused, attempt);
        !s.ok()) {
      return fail(s);
    }
    auto& res = parser.get();
    HttpResponse response;
    response.status = static_cast<int>(res.result_int());
    response.headers = ToHeaders(res.base());
    response.body = std::move(res.body());
    if (request.options.parse_json) response.json = ParseJsonOrRaw(response.body);
    ++conn->requests_served;
    bool reusable = res.keep_alive() && parser.is_done();
    std::string key = conn->key();
    pool_.Release(key, std::move(conn), reusable);
    return response;
  }

  absl::StatusOr<HttpResponse> Request(const HttpRequest& request) {
    auto url = ParseUrl(request.url);
    if (!url.ok()) return url.status();
    const RequestOptions& options = request.options;
    absl::Time deadline = DeadlineFor(options, /*stream=*/false);
    RetryPolicy policy = options.retry.value_or(options_.retry);
    bool idempotent = options.idempotent.value_or(IsIdempotentMethod(request.method));
    auto req = BuildRequest(request, *url);
    HttpRequestInfo info;
    bool fresh = false;
    bool stale_retry_used = false;
    absl::StatusOr<HttpResponse> result;
    while (true) {
      ++info.attempts;
      Attempt attempt;
      result = RunAttempt(request, *url, req, deadline, fresh, &attempt);
      fresh = false;
      if (attempt.opened_connection) ++info.connections_opened;
      if (!result.ok() && attempt.stale && !stale_retry_used &&
          (idempotent || attempt.nothing_written) && absl::Now() < deadline) {
        // A pooled connection the server had closed: not a real attempt.
        stale_retry_used = true;
        fresh = true;
        --info.attempts;
        continue;
      }
      AttemptOutcome outcome;
      if (result.ok()) {
        info.reached_server = true;
        int status = result->status;
        std::optional<absl::Duration> retry_after;
        if (status == 503 || status == 429) {
          auto it = result->headers.find("retry-after");
          if (it != result->headers.end()) retry_after = ParseRetryAfter(it->second);
        }
        if (RetryableStatus(status)) {
          outcome.status = absl::UnavailableError(absl::StrCat("HTTP ", status));
          outcome.pushback = retry_after;
        } else if (status == 429 && retry_after.has_value()) {
          outcome.status = absl::ResourceExhaustedError("HTTP 429");
          outcome.pushback = retry_after;
        } else {
          break;
        }
      } else {
        info.reached_server = info.reached_server || attempt.reached_server;
        if (attempt.permanent) break;
        outcome.status = result.status();
        outcome.reached_server = attempt.reached_server;
      }
      std::optional<absl::Duration> delay =
          NextRetryDelay(policy, info.attempts, outcome, idempotent, deadline, bitgen_);
      if (!delay.has_value()) break;
      absl::SleepFor(*delay);
    }
    if (options.info != nullptr) *options.info = info;
    if (!result.ok() && info.attempts > 1) {
      return absl::Status(result.status().code(),
                          absl::StrCat(result.status().message(), " (after ", info.attempts,
                                       " attempts)"));
    }
    return result;
  }

  absl::StatusOr<std::unique_ptr<HttpResponseStream>> OpenStream(const HttpRequest& request);

 private:
  class BitGen {
   public:
    using result_type = absl::BitGen::result_type;
    static constexpr result_type min() { return absl::BitGen::min(); }
    static constexpr result_type max() { return absl::BitGen::max(); }
    result_type operator()() {
      absl::MutexLock lock(&mu_);
      return gen_();
    }

   private:
    absl::Mutex mu_;
    absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  };

  HttpClientOptions options_;
  ConnectionPool pool_;
  std::unique_ptr<asio::ssl::context> ssl_;
  BitGen bitgen_;
};

// ---- Streaming responses -----------------------------------------------------------------

namespace {

class StreamImpl final : public HttpResponseStream {
 public:
  using Parser = bhttp::response_parser<bhttp::buffer_body>;

  StreamImpl(std::shared_ptr<HttpClient::Impl> client, std::unique_ptr<Connection> conn,
             std::unique_ptr<Parser> parser, std::string authority, absl::Time deadline)
      : client_(std::move(client)),
        conn_(std::move(conn)),
        parser_(std::move(parser)),
        authority_(std::move(authority)),
        deadline_(deadline) {
    status_code_ = static_cast<int>(parser_->get().result_int());
    headers_ = ToHeaders(parser_->get().base());
    if (parser_->is_done()) Finish(absl::OkStatus());
  }
  ~StreamImpl() override {
    absl::MutexLock lock(&mu_);
    ReleaseLocked(false);
  }

  int status() const override { return status_code_; }
  const Headers& headers() const override { return headers_; }
  absl::Status read_status() const override { return read_status_; }

  bool ReadSome(std::string* chunk) override {
    chunk->clear();
    if (finished_) return false;
    Connection* conn;
    {
      absl::MutexLock lock(&mu_);
      conn = conn_.get();
    }
    if (cancelled_.load() || conn == nullptr) {
      Finish(absl::CancelledError("the response stream was cancelled"));
      return false;
    }
    char buf[16 * 1024];
    while (true) {
      parser_->get().body().data = buf;
      parser_->get().body().size = sizeof(buf);
      bool done = false;
      error_code ec;
      conn->WithStream([&](auto& stream) {
        bhttp::async_read_some(stream, conn->buffer(), *parser_,
                               [&](const error_code& e, size_t) {
                                 ec = e;
                                 done = true;
                               });
      });
      bool in_time = conn->Run(done, deadline_);
      size_t got = sizeof(buf) - parser_->get().body().size;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (cancelled_.load()) {
        Finish(absl::CancelledError("the response stream was cancelled"));
        return false;
      }
      if (!in_time) {
        Finish(absl::DeadlineExceededError(
            absl::StrCat("timed out reading the response stream from ", authority_)));
        return false;
      }
      if (ec) {
        Finish(absl::UnavailableError(absl::StrCat("reading the response stream from ",
                                                   authority_, " failed: ", ErrorText(ec))));
        return false;
      }
      if (got > 0) {
        chunk->assign(buf, got);
        if (parser_->is_done()) Finish(absl::OkStatus(), /*keep_connection=*/true);
        return true;
      }
      if (parser_->is_done()) {
        Finish(absl::OkStatus(), /*keep_connection=*/true);
        return false;
      }
    }
  }

  void Cancel() override {
    cancelled_.store(true);
    absl::MutexLock lock(&mu_);
    if (conn_ == nullptr) return;
    Connection* conn = conn_.get();
    asio::post(conn->ioc(), [conn] { conn->Close(); });
  }

 private:
  void Finish(absl::Status status, bool keep_connection = false) {
    finished_ = true;
    read_status_ = std::move(status);
    absl::MutexLock lock(&mu_);
    ReleaseLocked(keep_connection && read_status_.ok() && parser_->keep_alive());
  }
  void ReleaseLocked(bool reusable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (conn_ == nullptr) return;
    // A Cancel racing with the end of the body may have queued a close.
    if (cancelled_.load()) reusable = false;
    ++conn_->requests_served;
    std::string key = conn_->key();
    client_->pool().Release(key, std::move(conn_), reusable);
  }

  std::shared_ptr<HttpClient::Impl> client_;
  absl::Mutex mu_;
  std::unique_ptr<Connection> conn_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Parser> parser_;
  std::string authority_;
  absl::Time deadline_;
  int status_code_ = 0;
  Headers headers_;
  bool finished_ = false;
  absl::Status read_status_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpResponseStream>> HttpClient::Impl::OpenStream(
    const HttpRequest& request) {
  auto url = ParseUrl(request.url);
  if (!url.ok()) return url.status();
  const RequestOptions& options = request.options;
  // The stream's own deadline (request timeout/deadline) and the deadline for
  // the headers (also bounded by the client's timeout).
  absl::Time stream_deadline = DeadlineFor(options, /*stream=*/true);
  absl::Time header_deadline = DeadlineFor(options, /*stream=*/false);
  RetryPolicy policy = options.retry.value_or(options_.retry);
  bool idempotent = options.idempotent.value_or(IsIdempotentMethod(request.method));
  auto req = BuildRequest(request, *url);
  HttpRequestInfo info;
  bool fresh = false;
  bool stale_retry_used = false;
  absl::Status last;
  while (true) {
    ++info.attempts;
    Attempt attempt;
    auto leased = Connect(*url, header_deadline, fresh, &attempt);
    fresh = false;
    if (attempt.opened_connection) ++info.connections_opened;
    if (leased.ok()) {
      std::unique_ptr<Connection> conn = *std::move(leased);
      bool reused = conn->requests_served > 0;
      auto parser = std::make_unique<StreamImpl::Parser>();
      parser->body_limit(boost::none);
      parser->header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      if (req.method() == bhttp::verb::head) parser->skip(true);
      absl::Status s = Write(*conn, req, *url, header_deadline, reused, &attempt);
      if (s.ok()) {
        s = ReadHeaderOrAll(*conn, *parser, /*header_only=*/true, *url, header_deadline, reused,
                            &attempt);
      }
      if (s.ok()) {
        info.reached_server = true;
        if (options.info != nullptr) *options.info = info;
        return std::unique_ptr<HttpResponseStream>(new StreamImpl(
            shared_from_this(), std::move(conn), std::move(parser), url->authority(),
            stream_deadline));
      }
      std::string key = conn->key();
      pool_.Release(key, std::move(conn), false);
      last = s;
    } else {
      last = leased.status();
    }
    info.reached_server = info.reached_server || attempt.reached_server;
    if (attempt.stale && !stale_retry_used && (idempotent || attempt.nothing_written)) {
      stale_retry_used = true;
      fresh = true;
      --info.attempts;
      continue;
    }
    if (attempt.permanent) break;
    AttemptOutcome outcome;
    outcome.status = last;
    outcome.reached_server = attempt.reached_server;
    auto delay = NextRetryDelay(policy, info.attempts, outcome, idempotent, header_deadline, bitgen_);
    if (!delay.has_value()) break;
    absl::SleepFor(*delay);
  }
  if (options.info != nullptr) *options.info = info;
  return last;
}

// ---- HttpClient ----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  if (absl::Status status = impl->Init(); !status.ok()) return status;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<HttpResponse> HttpClient::Request(const HttpRequest& request) {
  return impl_->Request(request);
}

absl::StatusOr<HttpResponse> HttpClient::Request(absl::string_view method, absl::string_view url,
                                                 std::string body, Headers headers,
                                                 RequestOptions options) {
  HttpRequest request;
  request.method = std::string(method);
  request.url = std::string(url);
  request.body = std::move(body);
  request.headers = std::move(headers);
  request.options = std::move(options);
  return impl_->Request(request);
}

absl::StatusOr<HttpResponse> HttpClient::Get(absl::string_view url, Headers headers,
                                             RequestOptions options) {
  return Request("GET", url, "", std::move(headers), std::move(options));
}
absl::StatusOr<HttpResponse> HttpClient::Post(absl::string_view url, std::string body,
                                              Headers headers, RequestOptions options) {
  return Request("POST", url, std::move(body), std::move(headers), std::move(options));
}
absl::StatusOr<HttpResponse> HttpClient::Put(absl::string_view url, std::string body,
                                             Headers headers, RequestOptions options) {
  return Request("PUT", url, std::move(body), std::move(headers), std::move(options));
}
absl::StatusOr<HttpResponse> HttpClient::Delete(absl::string_view url, Headers headers,
                                                RequestOptions options) {
  return Request("DELETE", url, "", std::move(headers), std::move(options));
}

absl::StatusOr<std::unique_ptr<HttpResponseStream>> HttpClient::OpenStream(
    const HttpRequest& request) {
  return impl_->OpenStream(request);
}

const HttpClientOptions& HttpClient::options() const { return impl_->options(); }
int HttpClient::open_connections() const { return impl_->pool().open(); }
int HttpClient::idle_connections() const { return impl_->pool().idle(); }

}  // namespace kei::http
