// JSON Schema 2020-12 for proto3 JSON, generated from descriptors (see
// json_schema.h for the encoding). One pass counts how often each message type
// is referenced, so that types used once are inlined and types used more than
// once (every type on a reference cycle is, or is the root) go to "$defs"; a
// second pass builds the schema.
#include "cc/mcp/json_schema.h"

#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/codec/json_wkt.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"

namespace kei::mcp {
namespace {

namespace gp = google::protobuf;
using Json = nlohmann::ordered_json;
using gp::FieldDescriptor;

constexpr char kDialect[] = "https://json-schema.org/draft/2020-12/schema";

// (kei.v1.required), proto/kei/v1/annotations.proto. Read through reflection,
// as cc/http/route_table.cc reads kei.v1.http, so that descriptors loaded at run
// time work whether or not the generated annotations are linked in.
constexpr char kRequiredExtension[] = "kei.v1.required";
constexpr int kRequiredExtensionNumber = 51020;

// String forms of numbers that proto3 JSON uses.
constexpr char kSignedDecimal[] = "^-?[0-9]+$";
constexpr char kUnsignedDecimal[] = "^[0-9]+$";
constexpr char kNonFiniteDouble[] = "^(NaN|-?Infinity)$";
constexpr char kDurationPattern[] = "^-?[0-9]+(\\.[0-9]{1,9})?s$";

using json_internal::ClassifyWkt;
using json_internal::Wkt;

// True if the field carries (kei.v1.required) = true, as a known extension or,
// when the extension is not linked in, as an unknown field of FieldOptions.
bool HasRequiredOption(const FieldDescriptor* field) {
  const gp::FieldOptions& options = field->options();
  const gp::Reflection* r = options.GetReflection();
  std::vector<const FieldDescriptor*> set;
  r->ListFields(options, &set);
  for (const FieldDescriptor* f : set) {
    if (f->is_extension() && f->full_name() == kRequiredExtension &&
        f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !f->is_repeated()) {
      return r->GetBool(options, f);
    }
  }
  bool required = false;
  const gp::UnknownFieldSet& unknown = r->GetUnknownFields(options);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const gp::UnknownField& f = unknown.field(i);
    if (f.number() == kRequiredExtensionNumber && f.type() == gp::UnknownField::TYPE_VARINT) {
      required = f.varint() != 0;  // the last occurrence wins, as on the wire
    }
  }
  return required;
}

// Descriptions end up in JSON that callers dump; nlohmann throws on invalid
// UTF-8 there, so bad bytes are replaced with U+FFFD here.
std::string ValidUtf8(const std::string& text) {
  std::string quoted = Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
  return Json::parse(quoted).get<std::string>();
}

std::string JoinNonEmpty(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return absl::StrCat(a, "\n\n", b);
}

// `schema` with "description" first (replacing any it had); unchanged if
// `description` is empty.
Json WithDescription(const std::string& description, const Json& schema) {
  if (description.empty()) return schema;
  Json out = Json::object();
  out["description"] = description;
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    if (it.key() != "description") out[it.key()] = it.value();
  }
  return out;
}

// Adds "null" to the schema's "type" (a string or an array of strings).
Json Nullable(Json schema) {
  Json types = Json::array();
  if (schema.contains("type") && schema["type"].is_array()) {
    types = schema["type"];
  } else if (schema.contains("type")) {
    types.push_back(schema["type"]);
  }
  types.push_back("null");
  schema["type"] = types;
  return schema;
}

// Schemas of scalar (non-message, non-enum) values.
Json ScalarSchema(FieldDescriptor::Type type) {
  switch (type) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
      return Json{{"type", "integer"},
                  {"minimum", std::numeric_limits<int32_t>::min()},
                  {"maximum", std::numeric_limits<int32_t>::max()}};
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      return Json{
          {"type", "integer"}, {"minimum", 0}, {"maximum", std::numeric_limits<uint32_t>::max()}};
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
      // Emitted as decimal strings (JavaScript numbers lose precision beyond
      // 2^53); parsers take numbers too.
      return Json{{"type", Json::array({"integer", "string"})}, {"pattern", kSignedDecimal}};
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      return Json{{"type", Json::array({"integer", "string"})},
                  {"pattern", kUnsignedDecimal},
                  {"minimum", 0}};
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_DOUBLE:
      return Json{{"type", Json::array({"number", "string"})}, {"pattern", kNonFiniteDouble}};
    case FieldDescriptor::TYPE_BOOL:
      return Json{{"type", "boolean"}};
    case FieldDescriptor::TYPE_STRING:
      return Json{{"type", "string"}};
    case FieldDescriptor::TYPE_BYTES:
      return Json{{"type", "string"}, {"contentEncoding", "base64"}};
    default:  // enums and messages are handled by the builder
      return Json::object();
  }
}

// JSON object keys of a map: proto3 JSON writes every key as a string.
Json MapKeySchema(FieldDescriptor::CppType key_type) {
  switch (key_type) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return Json{{"enum", Json::array({"true", "false"})}};
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return Json{{"pattern", kSignedDecimal}};
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return Json{{"pattern", kUnsignedDecimal}};
    default:  // string keys: any
      return Json();
  }
}

class SchemaBuilder {
 public:
  SchemaBuilder(const gp::Descriptor* root, const JsonSchemaOptions& options)
      : root_(root), options_(options) {}

  Json Build() {
    std::set<const gp::Descriptor*> visited;
    CountUses(root_, visited);
    Json schema = Json::object();
    schema["$schema"] = kDialect;
    Json body =
        ClassifyWkt(root_) == Wkt::kNone ? MessageBody(root_) : WellKnownSchema(root_);
    for (auto it = body.begin(); it != body.end(); ++it) schema[it.key()] = it.value();
    if (!defs_.empty()) {
      Json defs = Json::object();
      for (auto& [name, def] : defs_) defs[name] = std::move(def);  // sorted by name
      schema["$defs"] = std::move(defs);
    }
    return schema;
  }

 private:
  // The message type a field refers to (a map's value type), if any.
  static const gp::Descriptor* ReferencedMessage(const FieldDescriptor* field) {
    if (field->is_map()) field = field->message_type()->map_value();
    return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? field->message_type() : nullptr;
  }

  // Counts references (one per field) to each ordinary message type reachable
  // from `type`. Well-known types are always inlined and not counted.
  void CountUses(const gp::Descriptor* type, std::set<const gp::Descriptor*>& visited) {
    if (!visited.insert(type).second) return;
    for (int i = 0; i < type->field_count(); ++i) {
      const gp::Descriptor* target = ReferencedMessage(type->field(i));
      if (target == nullptr || ClassifyWkt(target) != Wkt::kNone) continue;
      ++uses_[target];
      CountUses(target, visited);
    }
  }

  std::string Describe(absl::string_view full_name) const {
    if (!options_.describe) return "";
    return ValidUtf8(options_.describe(full_name));
  }

  // The schema of a value of message type `type`, where a field refers to it.
  Json MessageReference(const gp::Descriptor* type) {
    if (ClassifyWkt(type) != Wkt::kNone) return WellKnownSchema(type);
    if (type == root_) return Json{{"$ref", "#"}};
    auto uses = uses_.find(type);
    if (uses == uses_.end() || uses->second < 2) return MessageBody(type);
    const std::string& name = type->full_name();
    if (defs_.find(name) == defs_.end()) {
      defs_[name] = Json::object();  // placeholder: stops recursion through `type`
      Json body = MessageBody(type);
      defs_[name] = std::move(body);
    }
    return Json{{"$ref", absl::StrCat("#/$defs/", name)}};
  }

  // {"type":"object","properties":...} for an ordinary message.
  Json MessageBody(const gp::Descriptor* type) {
    Json schema = Json::object();
    std::string description = Describe(type->full_name());
    if (!description.empty()) schema["description"] = description;
    schema["type"] = "object";
    Json properties = Json::object();
    Json required = Json::array();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      if (field->is_extension()) continue;
      properties[field->json_name()] = FieldSchema(field);
      if (field->is_required() || HasRequiredOption(field)) required.push_back(field->json_name());
    }
    schema["properties"] = std::move(properties);
    if (!required.empty()) schema["required"] = std::move(required);
    // At most one member of each oneof: no two of them together.
    Json exclusions = Json::array();
    for (int i = 0; i < type->real_oneof_decl_count(); ++i) {
      const gp::OneofDescriptor* oneof = type->oneof_decl(i);
      for (int a = 0; a < oneof->field_count(); ++a) {
        for (int b = a + 1; b < oneof->field_count(); ++b) {
          exclusions.push_back(Json{{"not",
                                     {{"required", Json::array({oneof->field(a)->json_name(),
                                                                oneof->field(b)->json_name()})}}}});
        }
      }
    }
    if (!exclusions.empty()) schema["allOf"] = std::move(exclusions);
    return schema;
  }

  // A field's schema: its value's, wrapped in an array or map as declared,
  // with the field's description.
  Json FieldSchema(const FieldDescriptor* field) {
    std::string description = Describe(field->full_name());
    if (field->is_map()) {
      const FieldDescriptor* key = field->message_type()->map_key();
      const FieldDescriptor* value = field->message_type()->map_value();
      Json schema = Json{{"type", "object"}, {"additionalProperties", ValueSchema(value)}};
      Json keys = MapKeySchema(key->cpp_type());
      if (!keys.is_null()) schema["propertyNames"] = std::move(keys);
      return WithDescription(description, schema);
    }
    if (field->is_repeated()) {
      return WithDescription(description, Json{{"type", "array"}, {"items", ValueSchema(field)}});
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      // The field's description replaces the enum's, the values' stay.
      const gp::EnumDescriptor* type = field->enum_type();
      if (!description.empty()) {
        description = JoinNonEmpty(description, EnumValuesDescription(type));
      }
    }
    return WithDescription(description, ValueSchema(field));
  }

  // The schema of one value of the field (an element, for repeated fields).
  Json ValueSchema(const FieldDescriptor* field) {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return MessageReference(field->message_type());
      case FieldDescriptor::CPPTYPE_ENUM:
        return EnumSchema(field->enum_type());
      default:
        return ScalarSchema(field->type());
    }
  }

  // Value names, as proto3 JSON writes enums. NullValue is JSON null, except
  // that a NullValue field printed as a default (always_print_primitive_fields)
  // comes out as "NULL_VALUE", from protobuf and kei::JsonCodec alike.
  Json EnumSchema(const gp::EnumDescriptor* type) {
    if (type->full_name() == "google.protobuf.NullValue") {
      return Json{{"type", Json::array({"null", "string"})},
                  {"enum", Json::array({nullptr, "NULL_VALUE"})}};
    }
    Json names = Json::array();
    for (int i = 0; i < type->value_count(); ++i) names.push_back(type->value(i)->name());
    Json schema = Json{{"type", "string"}, {"enum", std::move(names)}};
    std::string description =
        JoinNonEmpty(Describe(type->full_name()), EnumValuesDescription(type));
    return WithDescription(description, schema);
  }

  // "NAME: description" lines for the values that have one.
  std::string EnumValuesDescription(const gp::EnumDescriptor* type) const {
    if (type->full_name() == "google.protobuf.NullValue") return "";
    std::vector<std::string> lines;
    for (int i = 0; i < type->value_count(); ++i) {
      const gp::EnumValueDescriptor* value = type->value(i);
      // "pkg.E.VALUE"; then protobuf's own full name of a value, "pkg.VALUE"
      // (values are siblings of their enum, as in C++).
      std::string text = Describe(absl::StrCat(type->full_name(), ".", value->name()));
      if (text.empty()) text = Describe(value->full_name());
      if (!text.empty()) lines.push_back(absl::StrCat(value->name(), ": ", text));
    }
    return absl::StrJoin(lines, "\n");
  }

  // The proto3 JSON mapping's special forms of the well-known types.
  Json WellKnownSchema(const gp::Descriptor* type) {
    Wkt wkt = ClassifyWkt(type);
    if (json_internal::IsWrapper(wkt)) {
      // The wrapped scalar; null (unset) is accepted too.
      const FieldDescriptor* value = type->FindFieldByName("value");
      return Nullable(value != nullptr ? ScalarSchema(value->type()) : Json::object());
    }
    switch (wkt) {
      case Wkt::kTimestamp:
        return Json{{"type", "string"}, {"format", "date-time"}};
      case Wkt::kDuration:
        return Json{{"type", "string"}, {"pattern", kDurationPattern}};
      case Wkt::kFieldMask:
        return Json{{"type", "string"}};  // comma-separated lowerCamelCase paths
      case Wkt::kStruct:
        return Json{{"type", "object"}};
      case Wkt::kValue:
        return Json::object();  // any JSON value
      case Wkt::kListValue:
        return Json{{"type", "array"}};
      case Wkt::kAny:
        return Json{{"type", "object"},
                    {"properties", {{"@type", {{"type", "string"}}}}},
                    {"required", Json::array({"@type"})}};
      default:
        break;
    }
    return MessageBody(type);
  }

  const gp::Descriptor* const root_;
  const JsonSchemaOptions& options_;
  std::map<const gp::Descriptor*, int> uses_;
  std::map<std::string, Json> defs_;  // by full name, so "$defs" comes out sorted
};

}  // namespace

absl::StatusOr<nlohmann::ordered_json> MessageJsonSchema(const gp::Descriptor* type,
                                                         const JsonSchemaOptions& options) {
  if (type == nullptr) return absl::InvalidArgumentError("json schema: no message type");
  try {
    return SchemaBuilder(type, options).Build();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("json schema for ", type->full_name(), ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat("json schema for ", type->full_name(), " failed"));
  }
}

bool IsJsonObjectType(const gp::Descriptor* type) {
  if (type == nullptr) return false;
  switch (ClassifyWkt(type)) {
    case Wkt::kNone:
    case Wkt::kStruct:
    case Wkt::kAny:
      return true;
    default:
      return false;
  }
}

}  // namespace kei::mcp
