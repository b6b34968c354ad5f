// Proto3 JSON output written straight from protobuf reflection (public APIs
// only), without the detour protobuf 3.21's MessageToJsonString takes through
// binary serialization, a TypeResolver and an object tree (which made JSON
// encoding the dominant CPU cost of keid's HTTP path). The output is byte for
// byte what MessageToJsonString prints, except for the order of map members:
// maps (google.protobuf.Struct included) are written sorted by key (numeric
// order for integer keys, false before true, byte order for strings), so the
// output is the same from run to run, where protobuf follows its maps' hash
// order. Shapes it does not reproduce natively (Any, invalid UTF-8,
// out-of-range well-known types, ...) are reported so that JsonCodec can hand
// the whole message to protobuf.
#pragma once

#include <string>

#include "google/protobuf/message.h"

namespace kei::json_internal {

struct JsonWriteOptions {
  bool emit_defaults = false;    // always_print_primitive_fields
  bool use_proto_names = false;  // preserve_proto_field_names
  bool pretty = false;           // add_whitespace
};

// Appends `message` as JSON to `out`. Returns false, leaving `out` in an
// unspecified state, when the message holds something only protobuf's own
// printer handles; the caller then falls back to it.
bool WriteJson(const google::protobuf::Message& message,
               const JsonWriteOptions& options, std::string* out);

}  // namespace kei::json_internal
