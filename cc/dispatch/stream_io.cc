// StreamIO's serialized reads and writes for transports that have no bytes to
// hand over as they came: through a message of the declared type.
#include "cc/dispatch/stream_io.h"

#include <memory>

#include "cc/codec/proto_codec.h"

namespace kei {

bool StreamIO::ReadSerialized(const google::protobuf::Message& declared, std::string* out) {
  std::unique_ptr<google::protobuf::Message> message(declared.New());
  return Read(message.get()) && ProtoCodec().Marshal(*message, out).ok();
}

bool StreamIO::WriteSerialized(const google::protobuf::Message& declared,
                               absl::string_view bytes) {
  auto message = ProtoCodec().UnmarshalNew(declared, bytes);
  return message.ok() && Write(**message);
}

}  // namespace kei
