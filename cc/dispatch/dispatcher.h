// The one execution path. Every protocol adapter, gRPC included, calls handlers
// through a Dispatcher, so the interceptor chain (auth, deadlines, limits,
// metrics) and the error model behave the same whichever wire a call came in on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/codec/codec.h"
#include "cc/dispatch/context.h"
#include "cc/dispatch/handler_pool.h"
#include "cc/dispatch/handler_registry.h"
#include "cc/dispatch/interceptor.h"
#include "cc/dispatch/stream_io.h"

namespace kei {

class Dispatcher {
 public:
  Dispatcher() = default;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  HandlerRegistry& registry() { return registry_; }
  const HandlerRegistry& registry() const { return registry_; }
  // Where transports run unary handlers (nullptr: on their own threads).
  void set_handler_pool(HandlerPool* pool) { handler_pool_ = pool; }
  HandlerPool* handler_pool() const { return handler_pool_; }

  // Appends to the chain; call before serving.
  void AddInterceptor(std::shared_ptr<Interceptor> interceptor) {
    interceptors_.push_back(std::move(interceptor));
  }

  // Runs a unary call: interceptors, then the handler.
  absl::Status Unary(const MethodHandler& method, Context& context,
                     const google::protobuf::Message& request,
                     google::protobuf::Message* response) const;
  // Runs a streaming call of any kind over `io`.
  absl::Status Stream(const MethodHandler& method, Context& context, StreamIO& io) const;

  // Runs the interceptor chain for an operation that is not a handler call
  // (a WebSocket handshake, a topic subscription): the chain's verdict, with
  // OnCallEnd run at once. `method` must outlive the call.
  absl::Status Admit(const MethodInfo& method, Context& context) const;

  // For generic adapters: runs the interceptor chain, then decodes `request`
  // with `codec` (so untrusted bytes are parsed only for admitted callers),
  // runs the handler, and encodes the response into `response`.
  absl::Status UnaryEncoded(const MethodHandler& method, Context& context,
                            const Codec& codec, absl::string_view request,
                            std::string* response) const;

 private:
  // The unary path shared by typed and encoded calls; `request` produces the
  // request once the chain admitted the call.
  absl::Status RunUnary(
      const MethodHandler& method, Context& context,
      absl::FunctionRef<absl::StatusOr<const google::protobuf::Message*>()> request,
      google::protobuf::Message* response) const;
  // Runs OnCallStart; on failure unwinds what started and returns the status.
  absl::Status Start(const MethodInfo& method, Context& context, size_t* started) const;
  void End(const MethodInfo& method, Context& context, size_t started,
           const absl::Status& status) const;

  HandlerRegistry registry_;
  HandlerPool* handler_pool_ = nullptr;
  std::vector<std::shared_ptr<Interceptor>> interceptors_;
};

}  // namespace kei
