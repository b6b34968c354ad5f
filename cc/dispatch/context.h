// kei::Context: what a handler knows about its call, whichever protocol it came
// in on: deadline, cancellation, request metadata, the authenticated identity,
// and response metadata the handler wants to send back.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/dispatch/cancellation.h"
#include "cc/dispatch/identity.h"
#include "cc/dispatch/metadata.h"

namespace kei {

struct MethodInfo;

class Context {
 public:
  Context() = default;

  // The method being called; set by the dispatcher.
  const MethodInfo* method() const { return method_; }
  void set_method(const MethodInfo* method) { method_ = method; }

  // "grpc", "http", "ws", "mcp" or "inproc".
  absl::string_view protocol() const { return protocol_; }
  void set_protocol(std::string protocol) { protocol_ = std::move(protocol); }
  // The caller's address, e.g. "ipv4:127.0.0.1:53122".
  absl::string_view peer() const { return peer_; }
  void set_peer(std::string peer) { peer_ = std::move(peer); }

  // absl::InfiniteFuture() when the caller set no deadline.
  absl::Time deadline() const { return deadline_; }
  void set_deadline(absl::Time deadline) { deadline_ = deadline; }
  bool has_deadline() const { return deadline_ != absl::InfiniteFuture(); }
  absl::Duration remaining() const { return deadline_ - absl::Now(); }
  bool deadline_exceeded() const { return absl::Now() >= deadline_; }

  // True when the caller went away (or the server is shutting the call down).
  bool cancelled() const { return cancellation_.IsCancelled(); }
  const CancellationToken& cancellation() const { return cancellation_; }
  void set_cancellation(CancellationToken token) { cancellation_ = std::move(token); }
  // Sleeps up to `d`; returns false early when the call is cancelled or its
  // deadline passes first. The polite way for handlers to wait.
  bool SleepFor(absl::Duration d) const;

  // Request metadata / headers, lower-case keys.
  const Metadata& metadata() const { return metadata_; }
  Metadata& mutable_metadata() { return metadata_; }

  // Identity established by authentication.
  const Identity& identity() const { return identity_; }
  void set_identity(Identity identity) { identity_ = std::move(identity); }
  // Identity the transport established by itself (mutual TLS), before the
  // auth interceptor runs.
  const Identity& transport_identity() const { return transport_identity_; }
  void set_transport_identity(Identity identity) {
    transport_identity_ = std::move(identity);
  }

  // Metadata sent back with the response (gRPC trailers, HTTP headers).
  const Metadata& response_metadata() const { return response_metadata_; }
  void AddResponseMetadata(std::string key, std::string value) {
    response_metadata_.emplace(std::move(key), std::move(value));
  }

  // When the call entered the kit; for metrics.
  absl::Time start_time() const { return start_time_; }

 private:
  const MethodInfo* method_ = nullptr;
  std::string protocol_ = "inproc";
  std::string peer_;
  absl::Time deadline_ = absl::InfiniteFuture();
  CancellationToken cancellation_;
  Metadata metadata_;
  Identity identity_;
  Identity transport_identity_;
  Metadata response_metadata_;
  absl::Time start_time_ = absl::Now();
};

}  // namespace kei
