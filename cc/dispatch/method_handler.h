// One registry entry: a method's description plus its type-erased handler.
// Generated code (protoc-gen-kei) fills these in from typed handler interfaces;
// adapters call them through the Dispatcher.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "cc/dispatch/context.h"
#include "cc/dispatch/stream_io.h"
#include "cc/registry/method_info.h"
#include "google/protobuf/message.h"

namespace kei {

struct MethodHandler {
  MethodInfo info;
  // Default instances; adapters create request/response messages with New().
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  // Set for unary methods.
  std::function<absl::Status(Context&, const google::protobuf::Message&,
                             google::protobuf::Message*)>
      unary;
  // Set for the three streaming kinds. Server streaming reads its single
  // request from the stream; client streaming writes its single response.
  std::function<absl::Status(Context&, StreamIO&)> stream;
};

}  // namespace kei
