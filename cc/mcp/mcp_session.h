// One MCP session: what initialize negotiated, the log level and resource
// subscriptions the client set, the requests in flight (so
// notifications/cancelled can reach them) and the requests the server sent to
// the client and awaits answers for. Transports own how messages travel;
// the session only knows where unsolicited messages go (its outbound sink).
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/cancellation.h"
#include "cc/mcp/jsonrpc.h"
#include "cc/mcp/mcp_types.h"

namespace kei::mcp {

// Where a message to the client goes; returns false when it could not be
// delivered (the stream is gone).
using MessageSink = std::function<bool(const Json& message)>;

class Session {
 public:
  explicit Session(std::string id) : id_(std::move(id)) {}

  const std::string& id() const { return id_; }

  // Set by initialize.
  void SetInitialize(std::string protocol_version, Json client_info, Json client_capabilities);
  std::string protocol_version() const;
  Json client_info() const;
  Json client_capabilities() const;
  bool initialize_seen() const { return initialize_seen_.load(); }
  // notifications/initialized arrived.
  void MarkInitialized() { initialized_.store(true); }
  bool initialized() const { return initialized_.load(); }

  LogLevel log_level() const { return static_cast<LogLevel>(log_level_.load()); }
  void set_log_level(LogLevel level) { log_level_.store(static_cast<int>(level)); }

  bool Subscribe(const std::string& uri);
  bool Unsubscribe(const std::string& uri);
  bool IsSubscribed(const std::string& uri) const;

  // Requests in flight, by their id's JSON text.
  void BeginRequest(const Json& id, CancellationToken token);
  void EndRequest(const Json& id);
  // notifications/cancelled: cancels the request if it is still running.
  void CancelRequest(const Json& id);
  // Cancels everything in flight (the session ends).
  void CancelAll();

  // Messages the server sends on its own (list changes, updates, logs not
  // tied to a request). The transport installs the sink.
  void set_outbound(MessageSink sink);
  bool SendOutbound(const Json& message);

  // A request from the server to the client: returns its id and a future
  // the client's answer completes (a JSON-RPC result, or an error object
  // under "error").
  std::pair<Json, std::shared_future<Json>> BeginClientRequest();
  // Delivers a client's response; false if no request has this id.
  bool CompleteClientRequest(const Json& id, Json response);
  void AbandonClientRequest(const Json& id);

  // State a transport keeps for the session's lifetime (its SSE streams).
  void set_transport_state(std::shared_ptr<void> state) {
    absl::MutexLock lock(&mu_);
    transport_state_ = std::move(state);
  }
  std::shared_ptr<void> transport_state() const {
    absl::MutexLock lock(&mu_);
    return transport_state_;
  }

  // Last time a request of this session arrived; for idle expiry.
  void Touch() { last_used_ns_.store(absl::GetCurrentTimeNanos()); }
  absl::Time last_used() const { return absl::FromUnixNanos(last_used_ns_.load()); }

 private:
  const std::string id_;
  mutable absl::Mutex mu_;
  std::string protocol_version_ ABSL_GUARDED_BY(mu_);
  Json client_info_ ABSL_GUARDED_BY(mu_);
  Json client_capabilities_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> subscriptions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, CancellationToken> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<std::promise<Json>>> client_requests_
      ABSL_GUARDED_BY(mu_);
  int64_t next_client_request_ ABSL_GUARDED_BY(mu_) = 0;
  MessageSink outbound_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<void> transport_state_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> initialize_seen_{false};
  std::atomic<bool> initialized_{false};
  std::atomic<int> log_level_{static_cast<int>(LogLevel::kInfo)};
  std::atomic<int64_t> last_used_ns_{absl::GetCurrentTimeNanos()};
};

}  // namespace kei::mcp
