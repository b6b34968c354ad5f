// A deliberately plain HTTP/1.1 client for server tests: one TCP connection,
// requests written exactly as given (so tests can send what real clients send,
// and also what they should not), responses read whole (chunked included).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kei::testing {

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
  bool keep_alive = false;

  std::string header(const std::string& name) const;
};

class RawHttpConnection {
 public:
  static absl::StatusOr<std::unique_ptr<RawHttpConnection>> Connect(const std::string& host,
                                                                    int port);
  ~RawHttpConnection();

  // Sends one request and reads its whole response.
  absl::StatusOr<RawResponse> Send(const std::string& method, const std::string& target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& body,
                                   absl::Duration timeout = absl::Seconds(10));
  // Writes raw bytes and reads one response (for malformed requests).
  absl::StatusOr<RawResponse> SendRaw(const std::string& bytes,
                                      absl::Duration timeout = absl::Seconds(10));
  // True once the server closed the connection.
  bool PeerClosed();

  struct Impl;

 private:
  explicit RawHttpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
absl::StatusOr<RawResponse> HttpCall(int port, const std::string& method,
                                     const std::string& target,
                                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                                     const std::string& body = "");

}  // namespace kei::testing
