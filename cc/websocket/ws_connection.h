// One WebSocket connection's side of the KEI stream protocol
// (docs/websocket-protocol.md), apart from sockets: it reads frames handed to
// it, runs calls through the Dispatcher (unary calls on the handler pool,
// streaming calls on their own threads), keeps topic subscriptions, and
// queues outgoing frames on a bounded SendQueue that the session writes out.
// Keeping I/O out lets the protocol be tested without a network, and the
// session in cc/http/websocket_session.h stays plumbing.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "cc/codec/codec.h"
#include "cc/dispatch/cancellation.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/dispatch/identity.h"
#include "cc/dispatch/metadata.h"
#include "cc/pubsub/topic_backend.h"
#include "cc/websocket/frame_codec.h"
#include "cc/websocket/send_queue.h"
#include "cc/websocket/ws_options.h"

namespace kei::websocket {

// What every connection of one listener shares.
struct WsEndpoint {
  const Dispatcher* dispatcher = nullptr;
  std::shared_ptr<pubsub::TopicBackend> topics;  // null: topic frames answer unimplemented
  WebSocketOptions options;
  // Counts calls in flight, so the listener's shutdown waits for them.
  std::atomic<int>* in_flight = nullptr;
};

// The method the handshake is admitted as (auth, limits, metrics); list it
// among an AuthInterceptor's public methods to allow anonymous connections.
inline constexpr char kConnectMethod[] = "kei.v1.Stream/Connect";

class WsConnection : public std::enable_shared_from_this<WsConnection> {
 public:
  struct Peer {
    Metadata handshake;  // the upgrade request's headers, lower-case names
    std::string address;  // "ipv4:127.0.0.1:5555"
    Identity transport_identity;
  };

  WsConnection(const WsEndpoint& endpoint, std::shared_ptr<SendQueue> queue, Peer peer,
               bool binary);
  ~WsConnection();

  // Runs the handshake through the interceptor chain; non-OK refuses it.
  static absl::Status Admit(const WsEndpoint& endpoint, const Peer& peer);

  // Queues the welcome frame.
  void Start();
  // One message from the client. Never blocks (runs on the I/O thread).
  void OnMessage(absl::string_view message, bool binary);
  // The connection is gone: cancels its calls and ends its subscriptions.
  void Stop();

  size_t open_calls() const;
  SendQueue& queue() const { return *queue_; }

  struct Call;
  class CallStream;

 private:
  void StartCall(ParsedFrame& parsed);
  void RunUnary(std::shared_ptr<Call> call, std::string request_json);
  void RunStream(std::shared_ptr<Call> call);
  void FinishCall(const std::shared_ptr<Call>& call, const absl::Status& status,
                  absl::string_view response_json, const Context* context);
  std::shared_ptr<Call> FindCall(const std::string& id);
  void OnCallMessage(ParsedFrame& parsed);
  void OnHalfClose(const std::string& id);
  void OnCancel(const std::string& id);
  void OnCredit(const std::string& id, uint32_t credit);
  void Subscribe(const ParsedFrame& parsed);
  void Unsubscribe(const std::string& id);
  void Publish(const ParsedFrame& parsed);
  absl::Status AdmitTopicOperation(const char* method_name);
  void InitContext(Context& context, const v1::StreamFrame& frame,
                   const CancellationToken& token) const;

  // The connection-wide budget for received, not yet consumed request bytes.
  bool ReserveInbound(size_t bytes);
  void ReleaseInbound(size_t bytes);

  void Send(v1::StreamFrame frame, absl::string_view data_json = {});
  // How call messages are encoded on this connection: proto3 JSON in `data`
  // on JSON connections, protobuf binary in `payload` on proto ones.
  const Codec& codec() const;
  // The frame carrying `message` (encoded by codec()).
  std::string RenderCallFrame(v1::StreamFrame frame, std::string message) const;
  // Moves the call message out of a call or message frame; nullopt when it
  // carries none. INVALID_ARGUMENT for JSON `data` on a proto connection.
  absl::StatusOr<std::optional<std::string>> TakeCallMessage(ParsedFrame& parsed) const;
  void SendError(const std::string& id, const absl::Status& status);

  const WsEndpoint& endpoint_;
  const std::shared_ptr<SendQueue> queue_;
  const Peer peer_;
  const bool binary_;

  std::atomic<int64_t> inbound_bytes_{0};
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::shared_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  // Subscription frame id -> backend subscription id.
  std::map<std::string, uint64_t> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kei::websocket
