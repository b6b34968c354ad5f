// JSON Schema (draft 2020-12) for the proto3 JSON form of a protobuf message
// type. MCP tools bridged from proto methods advertise their request and
// response types with these schemas (`inputSchema`, `outputSchema`), so an MCP
// client (or an LLM) knows what JSON the kit's proto3 JSON codec accepts and
// emits. Generic over descriptors: no generated code is needed.
//
// The encoding, in short (details in json_schema.cc):
//   - messages: {"type":"object","properties":{json_name: ...}}, permissive
//     (no "additionalProperties"); fields with (kei.v1.required) = true are
//     listed in "required"; a message type used more than once, or recursively,
//     lives in "$defs" under its full name and is referenced with
//     {"$ref":"#/$defs/<full name>"}; references to the root type are {"$ref":"#"};
//   - 64-bit integers: {"type":["integer","string"]} with a decimal "pattern"
//     for the string form (protobuf emits them as strings);
//   - float/double: {"type":["number","string"]}, the string form limited to
//     "NaN", "Infinity", "-Infinity";
//   - enums: {"type":"string","enum":[value names]} (names only, as emitted;
//     NullValue is null or "NULL_VALUE");
//   - oneofs: every member is a property, and "allOf" holds one
//     {"not":{"required":[a,b]}} per pair of members (at most one is set);
//   - well-known types per the proto3 JSON mapping (Timestamp and Duration are
//     strings, Struct an object, Value any JSON, wrappers their scalar or null).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "nlohmann/json.hpp"

namespace kei::mcp {

struct JsonSchemaOptions {
  // Description for a full proto name: message "pkg.Msg", field "pkg.Msg.field",
  // enum "pkg.E", enum value "pkg.E.VALUE" (if that is empty, protobuf's own
  // full name of the value, "pkg.VALUE", is asked too); empty if none. May be null.
  std::function<std::string(absl::string_view full_name)> describe;
};

// The JSON Schema 2020-12 for the proto3 JSON form of `type`: what protobuf's
// JsonStringToMessage accepts and MessageToJsonString emits (json_name field
// names). Objects keep keywords and properties in a fixed order (properties in
// declaration order, "$defs" sorted by name), so the output is deterministic.
// Fails with kInvalidArgument for a null type, kInternal if building the schema
// threw (e.g. `describe` did).
absl::StatusOr<nlohmann::ordered_json> MessageJsonSchema(const google::protobuf::Descriptor* type,
                                                         const JsonSchemaOptions& options = {});

// True when every proto3 JSON value of `type` is a JSON object: ordinary
// messages, Struct, Any and Empty. False for the well-known types with another
// JSON form (Timestamp, Duration, FieldMask, Value, ListValue, wrappers) and for
// null. MCP requires an outputSchema whose root type is "object".
bool IsJsonObjectType(const google::protobuf::Descriptor* type);

}  // namespace kei::mcp
