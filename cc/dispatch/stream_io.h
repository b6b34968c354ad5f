// The one stream abstraction between adapters and handlers. Each protocol
// implements StreamIO over its wire (gRPC reactor, Connect envelopes, WebSocket
// frames); handlers see it through the typed wrappers in typed_streams.h.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
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

  // The same as binary protobuf bytes, for handlers that keep or forward
  // what they receive without parsing it (the bus stores publish batches as
  // they came). `declared` is the method's message type. Binary transports
  // hand the bytes over as they arrived; the default (JSON transports) reads
  // a `declared` message and serializes it.
  virtual bool ReadSerialized(const google::protobuf::Message& declared, std::string* out);
  // Sends `bytes`, a serialized `declared` message (the method's response
  // type). Binary transports send them as they are; the default parses them
  // into a `declared` message and writes that. False also when `bytes` do
  // not parse.
  virtual bool WriteSerialized(const google::protobuf::Message& declared,
                               absl::string_view bytes);
};

}  // namespace kei
