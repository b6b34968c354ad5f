// StreamIO's serialized reads and writes for transports that have no bytes to
// hand over as they came: through a message of the method's declared type.
#include "cc/dispatch/stream_io.h"

#include <memory>

namespace kei {

bool StreamIO::ReadSerialized(const google::protobuf::Message& declared, std::string* out) {
  std::unique_ptr<google::protobuf::Message> message(declared.New());
  if (!Read(message.get())) return false;
  out->clear();
  return message->AppendToString(out);
}

bool StreamIO::WriteSerialized(const google::protobuf::Message& declared,
                               absl::string_view bytes) {
  std::unique_ptr<google::protobuf::Message> message(declared.New());
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  return Write(*message);
}

}  // namespace kei
