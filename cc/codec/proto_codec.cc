#include "cc/codec/proto_codec.h"

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"

namespace kei {

absl::Status ProtoCodec::Marshal(const google::protobuf::Message& message,
                                 std::string* out) const {
  out->clear();
  if (!message.SerializeToString(out)) {
    return absl::InternalError(absl::StrCat("cannot serialize ",
                                            message.GetDescriptor()->full_name()));
  }
  return absl::OkStatus();
}

absl::Status ProtoCodec::Unmarshal(absl::string_view data,
                                   google::protobuf::Message* message) const {
  message->Clear();
  if (!message->ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed protobuf binary for ", message->GetDescriptor()->full_name()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> ProtoCodec::UnmarshalNew(
    const google::protobuf::Message& prototype, absl::string_view data) const {
  std::unique_ptr<google::protobuf::Message> message(prototype.New());
  if (absl::Status s = Unmarshal(data, message.get()); !s.ok()) return s;
  return message;
}

}  // namespace kei
