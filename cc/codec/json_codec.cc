#include "cc/codec/json_codec.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cc/codec/json_reader.h"
#include "cc/codec/json_writer.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace kei {

absl::Status JsonCodec::Marshal(const google::protobuf::Message& message,
                                std::string* out) const {
  out->clear();
  json_internal::JsonWriteOptions write_options;
  write_options.emit_defaults = options_.emit_defaults;
  write_options.use_proto_names = options_.use_proto_names;
  write_options.pretty = options_.pretty;
  if (json_internal::WriteJson(message, write_options, out)) return absl::OkStatus();

  // Shapes the native writer leaves alone (Any, invalid UTF-8, out-of-range
  // well-known types, ...): protobuf's own printer, for the whole message.
  out->clear();
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = options_.emit_defaults;
  options.preserve_proto_field_names = options_.use_proto_names;
  options.add_whitespace = options_.pretty;
  auto status = google::protobuf::util::MessageToJsonString(message, out, options);
  if (!status.ok()) {
    out->clear();
    return absl::InternalError(absl::StrCat("cannot encode ",
                                            message.GetDescriptor()->full_name(),
                                            " as JSON: ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status JsonCodec::Unmarshal(absl::string_view data,
                                  google::protobuf::Message* message) const {
  message->Clear();
  // An empty body is the empty message, as in Connect.
  if (data.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return absl::OkStatus();
  }
  json_internal::JsonReadOptions read_options;
  read_options.reject_unknown_fields = options_.reject_unknown_fields;
  std::string error;
  switch (json_internal::ReadJson(data, read_options, message, &error)) {
    case json_internal::ReadResult::kOk:
      return absl::OkStatus();
    case json_internal::ReadResult::kInvalid:
      message->Clear();
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid JSON for ", message->GetDescriptor()->full_name(), ": ", error));
    case json_internal::ReadResult::kUnsupported:
      message->Clear();
      break;
  }

  // Inputs in protobuf's lenient corners (and Any): its own parser decides.
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = !options_.reject_unknown_fields;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(data.data(), data.size()), message, options);
  if (!status.ok()) {
    message->Clear();
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON for ", message->GetDescriptor()->full_name(), ": ",
                     std::string(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace kei
