// ClientStream's serialized writes for transports that have no bytes to send
// as they are: through a message of the declared type.
#include "clients/transport.h"

#include "cc/codec/proto_codec.h"

namespace kei {

bool ClientStream::WriteSerialized(const google::protobuf::Message& declared,
                                   absl::string_view bytes) {
  auto message = ProtoCodec().UnmarshalNew(declared, bytes);
  return message.ok() && Write(**message);
}

}  // namespace kei
