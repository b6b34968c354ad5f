// ClientStream's serialized writes for transports that have no bytes to send
// as they are: through a message of the declared type.
#include "clients/transport.h"

namespace kei {

bool ClientStream::WriteSerialized(const google::protobuf::Message& declared,
                                   absl::string_view bytes) {
  std::unique_ptr<google::protobuf::Message> message(declared.New());
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  return Write(*message);
}

}  // namespace kei
