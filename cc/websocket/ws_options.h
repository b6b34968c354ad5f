// Settings of the WebSocket endpoint (docs/websocket-protocol.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace kei::websocket {

struct WebSocketOptions {
  // The upgrade path on the HTTP listener; empty turns WebSocket off.
  std::string path = "/api/v1/stream";
  // Larger messages close the connection with 1009.
  size_t max_message_bytes = 1024 * 1024;
  // Bytes of frames queued for one connection; a connection that would go
  // over is closed with 1013 (slow consumer) instead of growing memory.
  size_t send_queue_bytes = 4 * 1024 * 1024;
  // Bytes of request messages one connection may have received but its
  // handlers not yet consumed (across all its calls); a message beyond it
  // fails its call with RESOURCE_EXHAUSTED.
  size_t receive_queue_bytes = 16 * 1024 * 1024;
  // Stream messages each side may send on a call before the other grants
  // more with credit frames.
  uint32_t initial_credit = 64;
  // A connection idle this long is closed; a ping goes out at half of it.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Negotiate permessage-deflate when the client offers it.
  bool compression = true;
  // Open calls (including subscriptions) per connection.
  size_t max_calls_per_connection = 1024;
  // Longest call or subscription id accepted.
  size_t max_id_bytes = 256;
};

}  // namespace kei::websocket
