#include "cc/codec/json_codec.h"

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace kei {

absl::Status JsonCodec::Marshal(const google::protobuf::Message& message,
                                std::string* out) const {
  out->clear();
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = options_.emit_defaults;
  options.preserve_proto_field_names = options_.use_proto_names;
  options.add_whitespace = options_.pretty;
  auto status = google::protobuf::util::MessageToJsonString(message, out, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode ",
                                            message.GetDescriptor()->full_name(),
                                            " as JSON: ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status JsonCodec::Unmarshal(absl::string_view data,
                                  google::protobuf::Message* message) const {
  message->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = !options_.reject_unknown_fields;
  // An empty body is the empty message, as in Connect.
  if (data.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return absl::OkStatus();
  }
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(data.data(), data.size()), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON for ", message->GetDescriptor()->full_name(), ": ",
                     std::string(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace kei
