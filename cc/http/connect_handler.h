// The Connect protocol on the server: unary calls (POST with application/json
// or application/proto, and GET for side-effect-free methods) and streaming
// calls (application/connect+json|proto envelopes with the end-of-stream
// message), each entering the kit's Dispatcher like every other protocol.
// Over HTTP/1.1 streams are half-duplex: the request body is read whole, the
// response streams as the handler writes.
#pragma once

#include "cc/dispatch/dispatcher.h"
#include "cc/http/http_message.h"

namespace kei::http {

class ConnectHandler {
 public:
  ConnectHandler(const Dispatcher& dispatcher, size_t max_message_bytes)
      : dispatcher_(dispatcher), max_message_bytes_(max_message_bytes) {}

  // The method a Connect path ("/pkg.Service/Method") names, or nullptr.
  const MethodHandler* FindMethod(absl::string_view path) const;

  HttpResult Handle(const MethodHandler& method, HttpRequest request) const;

 private:
  HttpResult Unary(const MethodHandler& method, HttpRequest request) const;
  HttpResult Streaming(const MethodHandler& method, HttpRequest request,
                       const std::string& codec_name) const;

  const Dispatcher& dispatcher_;
  size_t max_message_bytes_;
};

}  // namespace kei::http
