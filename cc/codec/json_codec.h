// Proto3 JSON (lowerCamelCase field names on output, both spellings accepted on
// input), the same as protobuf's own JSON mapping but written and read
// directly over reflection (json_writer.h, json_reader.h). Output matches
// protobuf's byte for byte except that map members come out sorted by key
// rather than in protobuf's hash order (JSON member order carries no meaning).
// The few shapes those leave alone (Any, top-level well-known types, invalid
// UTF-8, protobuf's lenient input corners) go through protobuf's util
// functions for the whole message, and then maps print in protobuf's order.
#pragma once

#include "absl/strings/string_view.h"
#include "cc/codec/codec.h"

namespace kei {

struct JsonCodecOptions {
  // Reject fields the message does not have. Connect servers accept and drop
  // them for forward compatibility; tools that want typo checks can turn this on.
  bool reject_unknown_fields = false;
  // Emit fields that hold their default value.
  bool emit_defaults = false;
  // Use the .proto field names (snake_case) instead of lowerCamelCase.
  bool use_proto_names = false;
  // Indent the output.
  bool pretty = false;
};

class JsonCodec final : public Codec {
 public:
  JsonCodec() = default;
  explicit JsonCodec(JsonCodecOptions options) : options_(options) {}

  absl::string_view name() const override { return "json"; }
  absl::Status Marshal(const google::protobuf::Message& message,
                       std::string* out) const override;
  absl::Status Unmarshal(absl::string_view data,
                         google::protobuf::Message* message) const override;

 private:
  JsonCodecOptions options_;
};

}  // namespace kei
