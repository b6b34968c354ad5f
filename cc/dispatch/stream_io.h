// The one stream abstraction between adapters and handlers. Each protocol
// implements StreamIO over its wire (gRPC reactor, Connect envelopes, WebSocket
// frames); handlers see it through the typed wrappers in typed_streams.h.
#pragma once

#include "google/protobuf/message.h"

namespace kei {

class StreamIO {
 public:
  virtual ~StreamIO() = default;
  // Blocks for the next message from the caller; false at the end of the
  // caller's stream or when the call is cancelled.
  virtual bool Read(google::protobuf::Message* message) = 0;
  // Blocks until `message` is handed to the wire (flow control applies);
  // false if the call is gone.
  virtual bool Write(const google::protobuf::Message& message) = 0;
};

}  // namespace kei
