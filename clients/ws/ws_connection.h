// One client WebSocket connection speaking the KEI stream protocol
// (docs/websocket-protocol.md) over Boost.Beast: ws:// or wss:// (TLS with
// certificate verification on by default, a CA file, a client certificate for
// mutual TLS), the handshake headers that authenticate it, the
// kei.stream.v1.proto subprotocol (binary frames, call messages serialized)
// or kei.stream.v1.json, optional permessage-deflate, a message size limit,
// keepalive pings and a bounded close.
//
// Connect returns once the server's `welcome` frame has arrived. A background
// io thread then reads frames and hands each parsed Frame (`data` left as
// JSON text) to the frame callback; Send is thread-safe and never blocks on the network (frames queue
// for the single writer on the io thread). Callbacks run on the io thread and
// must not block; the connection must not be destroyed from one of them (it
// is then only detached, which is safe but leaves the thread to end alone).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "clients/client_config.h"
#include "clients/ws/stream_frame_codec.h"
#include "kei/v1/stream.pb.h"

namespace kei::ws {

struct WsConnectionOptions {
  // ws://host:port[/path] or wss://...; an empty path means /api/v1/stream.
  std::string url;
  // Credentials (bearer token, API key), metadata and TLS; the handshake
  // carries them as headers, and so every call on the connection.
  ClientConfig config;
  // More handshake headers.
  Metadata headers;
  // Offer permessage-deflate.
  bool compression = false;
  // Offer kei.stream.v1.proto before kei.stream.v1.json: binary frames, call
  // messages in protobuf binary. False (or a server that picks JSON) gives
  // JSON text frames.
  bool proto_frames = true;
  // Larger incoming messages close the connection (1009); larger outgoing
  // frames are refused with RESOURCE_EXHAUSTED.
  size_t max_message_bytes = 1 << 20;
  // Bounds resolving, connecting, TLS, the upgrade and the welcome frame.
  absl::Duration connect_timeout = absl::Seconds(10);
  // A ping every `ping_interval`; no pong within `ping_timeout` drops the
  // connection. InfiniteDuration or zero turns pings off.
  absl::Duration ping_interval = absl::Seconds(30);
  absl::Duration ping_timeout = absl::Seconds(10);
  // How long Close waits for queued frames and the closing handshake.
  absl::Duration close_timeout = absl::Seconds(5);
};

// How a connection ended.
struct WsCloseInfo {
  // The WebSocket close code (1000 normal, 1001 going away, ...); 0 when the
  // connection failed without a close frame.
  int code = 0;
  std::string reason;
  // OK for a close this side asked for; otherwise what in-flight calls fail
  // with (UNAVAILABLE, UNAUTHENTICATED for 1008, RESOURCE_EXHAUSTED for 1009).
  absl::Status status;
};

// The status a close code stands for, as seen by calls still in flight.
absl::Status StatusForCloseCode(int code, absl::string_view reason);

class WsConnection {
 public:
  using FrameCallback = std::function<void(const Frame&)>;
  using CloseCallback = std::function<void(const WsCloseInfo&)>;

  // Connects, upgrades and waits for `welcome`. Errors: INVALID_ARGUMENT (bad
  // URL or TLS files), UNAVAILABLE (network, TLS or a refused upgrade),
  // UNAUTHENTICATED / PERMISSION_DENIED (the server refused the credentials),
  // DEADLINE_EXCEEDED (connect_timeout). `on_close` runs once, on the io
  // thread, when the connection ends for any reason.
  static absl::StatusOr<std::unique_ptr<WsConnection>> Connect(WsConnectionOptions options,
                                                               FrameCallback on_frame,
                                                               CloseCallback on_close);
  // Closes (as Close) and waits for the io thread.
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Queues one frame (stamping its timestamp when unset), with `data_json` as
  // its data when not empty (see RenderFrame). UNAVAILABLE once the connection
  // is closing or closed; RESOURCE_EXHAUSTED over the size limit.
  absl::Status Send(v1::StreamFrame frame, absl::string_view data_json = {});
  // Queues a frame carrying a call's message, which must be encoded as this
  // connection carries them (proto_frames()); UNAVAILABLE when it is not.
  absl::Status SendCall(v1::StreamFrame frame, CallMessage message);
  // Whether the server chose kei.stream.v1.proto: call messages travel as
  // serialized protobuf.
  bool proto_frames() const { return subprotocol_ == kProtoSubprotocol; }
  // Sends the queued frames, then a 1000 close, and waits up to close_timeout
  // for the server's close before dropping the socket. Idempotent.
  void Close();
  bool open() const;

  const WelcomeInfo& welcome() const { return welcome_; }
  // The subprotocol the server chose ("" when it chose none).
  const std::string& subprotocol() const { return subprotocol_; }
  // Pings sent and pongs received, for tests and metrics.
  int pings_sent() const;
  int pongs_received() const;

  class Impl;

 private:
  WsConnection(std::shared_ptr<Impl> impl, WelcomeInfo welcome, std::string subprotocol);

  std::shared_ptr<Impl> impl_;
  std::thread io_thread_;
  WelcomeInfo welcome_;
  std::string subprotocol_;
};

}  // namespace kei::ws
