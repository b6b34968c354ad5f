// Proto3 JSON input parsed straight into a message through protobuf
// reflection, by a small recursive-descent reader over the input bytes: no
// DOM, no binary round trip (protobuf 3.21's JsonStringToMessage transcodes
// through both, and dominated keid's HTTP CPU time). It accepts what protobuf
// accepts from real clients; inputs in protobuf's lenient corners (unquoted
// keys, single quotes, odd number spellings, Any, ...) are reported so that
// JsonCodec can hand them to protobuf's parser, which then decides.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace kei::json_internal {

enum class ReadResult {
  kOk,
  kInvalid,      // malformed; `error` says where ("field.path: what")
  kUnsupported,  // let protobuf's own parser decide
};

struct JsonReadOptions {
  bool reject_unknown_fields = false;
};

// Parses `data` (non-empty, a JSON object) into `message`, which must be empty.
ReadResult ReadJson(absl::string_view data, const JsonReadOptions& options,
                    google::protobuf::Message* message, std::string* error);

}  // namespace kei::json_internal
