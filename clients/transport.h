// The one client interface: a Transport carries unary calls and streams of any
// method, by its descriptor, over one protocol. Typed clients, the factory and
// the UnifiedClient sit on top and never care which wire is underneath.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/registry/method_info.h"
#include "cc/retry/retry_policy.h"
#include "clients/call_options.h"
#include "clients/protocol.h"
#include "google/protobuf/message.h"

namespace kei {

// A client's side of a stream of any kind. Server streaming: Write the request,
// CloseSend, then Read until false. Not thread-safe except Cancel, and except
// that on client and bidi streams one thread may Write and CloseSend while
// another Reads (how a bidi call pipelines).
class ClientStream {
 public:
  virtual ~ClientStream() = default;
  virtual bool Write(const google::protobuf::Message& message) = 0;
  // Writes `bytes`, a serialized message of the method's request type
  // `declared`, for callers that build requests as bytes. Binary transports
  // send them as they are; the default parses them into a `declared` message
  // and writes that. False also when `bytes` do not parse.
  virtual bool WriteSerialized(const google::protobuf::Message& declared,
                               absl::string_view bytes);
  // Half-closes: no more writes.
  virtual bool CloseSend() = 0;
  // False at the end of the stream or on error; then call Finish.
  virtual bool Read(google::protobuf::Message* message) = 0;
  // The final status, once Read returned false.
  virtual absl::Status Finish() = 0;
  // Abandons the call; the server sees it cancelled.
  virtual void Cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Protocol protocol() const = 0;
  // Where it connects, e.g. "grpc://127.0.0.1:50051".
  virtual std::string target() const = 0;

  // One attempt of a unary call (no retries: see InvokeUnary). `response` must
  // be of the method's output type (generated class or DynamicMessage).
  virtual AttemptOutcome Unary(const MethodInfo& method,
                               const google::protobuf::Message& request,
                               google::protobuf::Message* response,
                               const CallOptions& options) = 0;

  virtual absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
      const MethodInfo& method, const CallOptions& options) = 0;

  // False while the transport knows calls would fail (e.g. its connection is
  // in transient failure); selectors try available transports first.
  virtual bool Available() const { return true; }
};

}  // namespace kei
