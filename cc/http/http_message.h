// The HTTP adapter's view of one exchange, independent of sockets: a request
// as read by the session, and either a complete response or a streaming call
// that writes its response as it goes. Keeping I/O out of the handlers lets the
// Connect and REST logic be tested without a network.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "cc/dispatch/cancellation.h"
#include "cc/dispatch/identity.h"
#include "cc/dispatch/metadata.h"

namespace kei::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::string query;   // after '?', undecoded
  Metadata headers;    // lower-case names
  std::string body;
  std::string peer;    // "ipv4:127.0.0.1:5555"
  Identity transport_identity;  // from a verified client certificate
  bool tls = false;
  // Cancelled when the server shuts down with the call still running.
  CancellationToken cancellation;

  absl::string_view header(absl::string_view name) const {
    auto value = FirstValue(headers, name);
    return value ? *value : absl::string_view();
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
};

// Where a streaming call writes its response. Start sends the status and
// headers (the body is chunked); each Write sends one piece. Both return false
// once the client is gone, after which the call should stop.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual bool Start(int status, const HeaderList& headers) = 0;
  virtual bool Write(absl::string_view data) = 0;
};

// A call that streams its response; run by the session on a worker thread.
using StreamingCall = std::function<void(ResponseWriter& writer)>;

// What a handler decided: exactly one of the two is set.
struct HttpResult {
  HttpResponse response;
  StreamingCall streaming;

  static HttpResult Respond(HttpResponse r) { return HttpResult{std::move(r), nullptr}; }
  static HttpResult Stream(StreamingCall call) { return HttpResult{{}, std::move(call)}; }
};

}  // namespace kei::http
