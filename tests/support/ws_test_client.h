// A small synchronous WebSocket client for tests of keid's WebSocket endpoint:
// raw frames in and out over a real socket (Boost.Beast), every read bounded
// by a timeout, so a test can also send what a well-behaved client never
// would (malformed frames, oversize messages, no reads at all).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cc/websocket/frame_codec.h"

namespace kei::testing {

struct WsTestClientOptions {
  std::string path = "/api/v1/stream";
  std::vector<std::pair<std::string, std::string>> headers;
  // Offered in Sec-WebSocket-Protocol; empty offers none.
  std::string subprotocol = "kei.stream.v1.json";
  bool deflate = false;
  size_t max_message_bytes = 64 * 1024 * 1024;
};

class WsTestClient {
 public:
  // Connects to 127.0.0.1:port and upgrades. A refused upgrade is an error
  // whose message carries the HTTP status ("status 401: ...").
  static absl::StatusOr<std::unique_ptr<WsTestClient>> Connect(int port,
                                                               WsTestClientOptions options = {});
  ~WsTestClient();

  absl::Status Send(absl::string_view message, bool binary = false);
  // One message; DEADLINE_EXCEEDED after `timeout`, UNAVAILABLE once the
  // connection closed (close_code() then says how).
  absl::StatusOr<std::string> ReadRaw(absl::Duration timeout = absl::Seconds(10));
  // One message parsed as a StreamFrame (proto3 JSON or binary by subprotocol).
  absl::StatusOr<websocket::ParsedFrame> Read(absl::Duration timeout = absl::Seconds(10));
  // Reads until `match` accepts a frame; the frames skipped on the way are
  // appended to `skipped` when given.
  absl::StatusOr<websocket::ParsedFrame> ReadUntil(
      const std::function<bool(const websocket::ParsedFrame&)>& match,
      absl::Duration timeout = absl::Seconds(10),
      std::vector<websocket::ParsedFrame>* skipped = nullptr);
  // A frame of this type (and id, when not empty).
  absl::StatusOr<websocket::ParsedFrame> ReadType(absl::string_view type, absl::string_view id = "",
                                                  absl::Duration timeout = absl::Seconds(10));

  // The close code the server sent (0 until the connection closed).
  int close_code() const;
  std::string subprotocol() const;
  void Close();

  class Impl;

 private:
  explicit WsTestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kei::testing
