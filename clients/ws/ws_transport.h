// The WebSocket Transport: any method by its descriptor over the KEI stream
// protocol (docs/websocket-protocol.md), so KEIRPCClient and the UnifiedClient
// work over ws:// and wss:// URLs unchanged. One connection multiplexes every
// call (each has its own id): a unary call is a `call` frame answered by
// `response` or `error`; streams of every kind exchange `message` frames under
// the protocol's per-call credit, end with `half_close` / `end`, and `cancel`
// abandons them. Deadlines travel as `timeoutMs` and also bound the local wait.
//
// The connection opens on first use and again after it is lost. The frame
// routes and observers below let KEIStreamClient put topics and application
// messages on the same connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "clients/client_config.h"
#include "clients/protocol.h"
#include "clients/transport.h"
#include "clients/ws/stream_frame_codec.h"
#include "clients/ws/ws_connection.h"
#include "kei/v1/stream.pb.h"

namespace kei {

struct WsTransportOptions {
  // More handshake headers (credentials and metadata come from ClientConfig).
  Metadata headers;
  // Offer permessage-deflate.
  bool compression = false;
  // Ask for kei.stream.v1.proto: binary frames, call messages in protobuf
  // binary (the server may still choose JSON). False: JSON text frames.
  bool proto_frames = true;
  size_t max_message_bytes = 1 << 20;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration ping_interval = absl::Seconds(30);
  absl::Duration ping_timeout = absl::Seconds(10);
  absl::Duration close_timeout = absl::Seconds(5);
  // How many response messages a streaming call is ready for; credit goes
  // back to the server as Read consumes half of it.
  uint32_t receive_window = 64;
  // How long past a call's deadline the client waits for the server's own
  // deadline error before it cancels the call itself.
  absl::Duration deadline_grace = absl::Seconds(1);
};

namespace ws {
class WsCall;
}

class WsTransport final : public Transport,
                          public std::enable_shared_from_this<WsTransport> {
 public:
  // `endpoint`: ws://host:port[/path] or wss://... (TLS); the path defaults
  // to /api/v1/stream. Nothing connects until the first call or Connect.
  static absl::StatusOr<std::shared_ptr<WsTransport>> Create(const Endpoint& endpoint,
                                                             ClientConfig config,
                                                             WsTransportOptions options = {});
  ~WsTransport() override;

  Protocol protocol() const override { return Protocol::kWebSocket; }
  std::string target() const override { return url_; }
  AttemptOutcome Unary(const MethodInfo& method, const google::protobuf::Message& request,
                       google::protobuf::Message* response,
                       const CallOptions& options) override;
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
      const MethodInfo& method, const CallOptions& options) override;
  bool Available() const override;

  // ---- The connection, for KEIStreamClient ----------------------------------------
  using FrameHandler = std::function<void(const ws::Frame&)>;
  using ConnectionObserver = std::function<void(bool connected, const absl::Status& why)>;

  // Opens the connection unless it is open.
  absl::Status Connect();
  // Closes it; calls in flight fail with UNAVAILABLE. Routes stay.
  void Disconnect();
  bool connected() const;
  // A fresh frame id, e.g. "s12" for prefix "s".
  std::string NextId(absl::string_view prefix);
  // Sends one frame on the open connection (UNAVAILABLE when there is none),
  // with `data_json` as its data when not empty.
  absl::Status SendFrame(v1::StreamFrame frame, absl::string_view data_json = {});
  // A call's message encoded as the open connection carries them (protobuf
  // binary or proto3 JSON); UNAVAILABLE when there is no connection.
  absl::StatusOr<ws::CallMessage> EncodeCallMessage(const google::protobuf::Message& message);
  // `bytes` (a serialized `declared`) as they are in proto frames, else as
  // JSON through a `declared` message.
  absl::StatusOr<ws::CallMessage> EncodeSerializedCallMessage(
      const google::protobuf::Message& declared, absl::string_view bytes);
  // Sends a frame carrying a call's message.
  absl::Status SendCallFrame(v1::StreamFrame frame, ws::CallMessage message);
  // Frames with `id` go to `handler` until RemoveRoute, across reconnects.
  // Handlers and observers run on the connection's io thread: no blocking.
  void AddRoute(const std::string& id, FrameHandler handler);
  void RemoveRoute(const std::string& id);
  // Sees every incoming frame, after its call or route.
  void SetFrameObserver(FrameHandler observer);
  // Told when a connection opens (on the Connect caller's thread) and ends.
  void SetConnectionObserver(ConnectionObserver observer);
  // What the current (or last) connection's server announced.
  ws::WelcomeInfo welcome() const;
  // Whether the current (or last) connection carries call messages as
  // serialized protobuf (the server chose kei.stream.v1.proto).
  bool proto_frames() const;
  // Connections opened so far.
  int connections_opened() const { return connections_opened_.load(); }
  const WsTransportOptions& options() const { return options_; }
  const ClientConfig& config() const { return config_; }

  // For the call objects: registers `call` and sends its first frame.
  absl::Status StartCall(const std::shared_ptr<ws::WsCall>& call, v1::StreamFrame frame,
                         std::optional<ws::CallMessage> request);
  void EndCall(const std::string& id);

 private:
  WsTransport(std::string url, ClientConfig config, WsTransportOptions options);
  void OnFrame(uint64_t generation, const ws::Frame& frame);
  void OnClose(uint64_t generation, const ws::WsCloseInfo& info);

  const std::string url_;
  const ClientConfig config_;
  const WsTransportOptions options_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<int> connections_opened_{0};

  absl::Mutex connect_mu_;  // one connection attempt at a time
  mutable absl::Mutex mu_;
  std::unique_ptr<ws::WsConnection> connection_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool proto_frames_ ABSL_GUARDED_BY(mu_) = false;  // the connection's choice
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_failure_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  ws::WelcomeInfo welcome_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<ws::WsCall>> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<FrameHandler>> routes_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<FrameHandler> frame_observer_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ConnectionObserver> connection_observer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei
