// The JSON Schemas that MCP tools advertise for proto messages
// (cc/mcp/json_schema.h): the shape of every proto3 JSON kind on
// kei.test.v1.JsonTypes, $defs/$ref for shared and recursive types,
// (kei.v1.required), descriptions, and determinism. Whether the schemas accept
// protobuf's own JSON is checked by a real validator in
// tests/interop/json_schema_ajv_interop_test.cc.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "cc/mcp/json_schema.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "kei/agent/v1/agent.pb.h"
#include "kei/test/v1/json_types.pb.h"

namespace kei::mcp {
namespace {

namespace gp = google::protobuf;
using Json = nlohmann::ordered_json;
using test::v1::JsonTypes;

constexpr char kNestedRef[] = "#/$defs/kei.test.v1.JsonTypes.Nested";

// Parses expected schemas, keeping their key order: comparisons are exact.
Json J(const char* text) { return Json::parse(text); }

Json SchemaOf(const gp::Descriptor* type, const JsonSchemaOptions& options = {}) {
  auto schema = MessageJsonSchema(type, options);
  EXPECT_TRUE(schema.ok()) << schema.status();
  return schema.ok() ? *schema : Json();
}

const Json& Property(const Json& schema, const std::string& name) {
  static const Json* const kMissing = new Json();
  if (!schema.contains("properties") || !schema["properties"].contains(name)) {
    ADD_FAILURE() << "no property " << name << " in " << schema.dump();
    return *kMissing;
  }
  return schema["properties"][name];
}

// Builds messages from a text-format FileDescriptorProto, in a pool of its own.
class DynamicTypes {
 public:
  explicit DynamicTypes(const std::string& file_text) {
    gp::FileDescriptorProto file;
    EXPECT_TRUE(gp::TextFormat::ParseFromString(file_text, &file));
    file_ = pool_.BuildFile(file);
    EXPECT_NE(file_, nullptr);
  }
  DynamicTypes(const gp::FileDescriptorProto& file) : file_(pool_.BuildFile(file)) {
    EXPECT_NE(file_, nullptr);
  }
  const gp::Descriptor* Find(const std::string& name) const {
    const gp::Descriptor* type = pool_.FindMessageTypeByName(name);
    EXPECT_NE(type, nullptr) << name;
    return type;
  }

 private:
  gp::DescriptorPool pool_;
  const gp::FileDescriptor* file_ = nullptr;
};

TEST(McpJsonSchemaTest, RootIsADraft202012ObjectWithJsonNamesInDeclarationOrder) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
  EXPECT_EQ(schema["type"], "object");
  EXPECT_FALSE(schema.contains("additionalProperties"));  // permissive, like proto3 parsers
  EXPECT_FALSE(schema.contains("required"));
  std::vector<std::string> names;
  for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
    names.push_back(it.key());
  }
  const gp::Descriptor* type = JsonTypes::descriptor();
  ASSERT_EQ(names.size(), static_cast<size_t>(type->field_count()));
  for (int i = 0; i < type->field_count(); ++i) {
    EXPECT_EQ(names[i], type->field(i)->json_name());
  }
  EXPECT_EQ(names.front(), "fDouble");
  EXPECT_TRUE(schema["properties"].contains("renamed"));
  EXPECT_TRUE(schema["properties"].contains("fieldWith2UnderScores"));
  // Keyword order is fixed: "$schema" first, "$defs" last.
  EXPECT_EQ(schema.begin().key(), "$schema");
  EXPECT_EQ((--schema.end()).key(), "$defs");
}

TEST(McpJsonSchemaTest, Scalars) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  const Json int32 = J(R"({"type":"integer","minimum":-2147483648,"maximum":2147483647})");
  const Json uint32 = J(R"({"type":"integer","minimum":0,"maximum":4294967295})");
  const Json int64 = J(R"({"type":["integer","string"],"pattern":"^-?[0-9]+$"})");
  const Json uint64 = J(R"({"type":["integer","string"],"pattern":"^[0-9]+$","minimum":0})");
  const Json real = J(R"({"type":["number","string"],"pattern":"^(NaN|-?Infinity)$"})");
  EXPECT_EQ(Property(schema, "fInt32"), int32);
  EXPECT_EQ(Property(schema, "fSint32"), int32);
  EXPECT_EQ(Property(schema, "fSfixed32"), int32);
  EXPECT_EQ(Property(schema, "fUint32"), uint32);
  EXPECT_EQ(Property(schema, "fFixed32"), uint32);
  EXPECT_EQ(Property(schema, "fInt64"), int64);
  EXPECT_EQ(Property(schema, "fSint64"), int64);
  EXPECT_EQ(Property(schema, "fSfixed64"), int64);
  EXPECT_EQ(Property(schema, "fUint64"), uint64);
  EXPECT_EQ(Property(schema, "fFixed64"), uint64);
  EXPECT_EQ(Property(schema, "fDouble"), real);
  EXPECT_EQ(Property(schema, "fFloat"), real);
  EXPECT_EQ(Property(schema, "fBool"), J(R"({"type":"boolean"})"));
  EXPECT_EQ(Property(schema, "fString"), J(R"({"type":"string"})"));
  EXPECT_EQ(Property(schema, "fBytes"), J(R"({"type":"string","contentEncoding":"base64"})"));
  EXPECT_EQ(Property(schema, "renamed"), int32);
}

TEST(McpJsonSchemaTest, RepeatedFieldsAreArraysOfTheirElement) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  EXPECT_EQ(Property(schema, "rInt64"),
            J(R"({"type":"array","items":{"type":["integer","string"],"pattern":"^-?[0-9]+$"}})"));
  EXPECT_EQ(Property(schema, "rBytes"),
            J(R"({"type":"array","items":{"type":"string","contentEncoding":"base64"}})"));
  EXPECT_EQ(Property(schema, "rNested"),
            Json({{"type", "array"}, {"items", {{"$ref", kNestedRef}}}}));
  EXPECT_EQ(
      Property(schema, "rEnum")["items"]["enum"],
      J(R"(["JSON_COLOR_UNSPECIFIED","JSON_COLOR_RED","JSON_COLOR_GREEN","JSON_COLOR_BLUE"])"));
  EXPECT_EQ(Property(schema, "rwTimestamp"),
            J(R"({"type":"array","items":{"type":"string","format":"date-time"}})"));
  EXPECT_EQ(Property(schema, "rwValue"), J(R"({"type":"array","items":{}})"));
}

TEST(McpJsonSchemaTest, MapsAreObjectsWithKeyPatterns) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  EXPECT_EQ(Property(schema, "mStringString"),
            J(R"({"type":"object","additionalProperties":{"type":"string"}})"));
  EXPECT_EQ(Property(schema, "mInt32Int32")["propertyNames"], J(R"({"pattern":"^-?[0-9]+$"})"));
  EXPECT_EQ(Property(schema, "mInt64Int64")["propertyNames"], J(R"({"pattern":"^-?[0-9]+$"})"));
  EXPECT_EQ(Property(schema, "mSfixed64Nested")["propertyNames"], J(R"({"pattern":"^-?[0-9]+$"})"));
  EXPECT_EQ(Property(schema, "mUint32Uint32")["propertyNames"], J(R"({"pattern":"^[0-9]+$"})"));
  EXPECT_EQ(Property(schema, "mFixed64Bytes")["propertyNames"], J(R"({"pattern":"^[0-9]+$"})"));
  EXPECT_EQ(Property(schema, "mBoolString")["propertyNames"], J(R"({"enum":["true","false"]})"));
  EXPECT_EQ(Property(schema, "mUint64Uint64")["additionalProperties"],
            J(R"({"type":["integer","string"],"pattern":"^[0-9]+$","minimum":0})"));
  EXPECT_EQ(Property(schema, "mSfixed32Enum")["additionalProperties"]["type"], "string");
  EXPECT_EQ(Property(schema, "mStringNested")["additionalProperties"],
            Json({{"$ref", kNestedRef}}));
  EXPECT_EQ(Property(schema, "mStringValue"), J(R"({"type":"object","additionalProperties":{}})"));
}

TEST(McpJsonSchemaTest, SharedAndRecursiveMessagesLiveInDefs) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  EXPECT_EQ(Property(schema, "fNested"), Json({{"$ref", kNestedRef}}));
  EXPECT_EQ(Property(schema, "oNested"), Json({{"$ref", kNestedRef}}));
  ASSERT_EQ(schema["$defs"].size(), 1u);
  const Json& nested = schema["$defs"]["kei.test.v1.JsonTypes.Nested"];
  EXPECT_EQ(nested["type"], "object");
  EXPECT_EQ(nested["properties"]["a"]["type"], "integer");
  EXPECT_EQ(nested["properties"]["b"], J(R"({"type":"string"})"));
  EXPECT_EQ(nested["properties"]["children"],
            Json({{"type", "array"}, {"items", {{"$ref", kNestedRef}}}}));
  EXPECT_EQ(nested["properties"]["color"]["type"], "string");
}

TEST(McpJsonSchemaTest, ARecursiveRootRefersToItselfAsHash) {
  Json schema = SchemaOf(JsonTypes::Nested::descriptor());
  EXPECT_EQ(schema["type"], "object");
  EXPECT_EQ(Property(schema, "children"), J(R"({"type":"array","items":{"$ref":"#"}})"));
  EXPECT_FALSE(schema.contains("$defs"));
}

TEST(McpJsonSchemaTest, TypesUsedOnceAreInlined) {
  // PlanResponse.steps is the only use of Step; ActRequest.params is a Struct.
  Json plan = SchemaOf(agent::v1::PlanResponse::descriptor());
  EXPECT_FALSE(plan.contains("$defs"));
  const Json& step = Property(plan, "steps")["items"];
  EXPECT_EQ(step["type"], "object");
  EXPECT_EQ(step["properties"]["params"], J(R"({"type":"object"})"));
  EXPECT_EQ(step["properties"]["index"]["type"], "integer");
}

TEST(McpJsonSchemaTest, CyclesThroughSeveralTypesTerminate) {
  // Root -> A -> B -> A: A is entered from outside and from B, so it is a $def;
  // B is used once and inlined inside it.
  DynamicTypes types(R"pb(
    name: "cycle.proto"
    package: "cy"
    syntax: "proto3"
    message_type {
      name: "Root"
      field {
        name: "a"
        number: 1
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".cy.A"
        json_name: "a"
      }
    }
    message_type {
      name: "B"
      field {
        name: "a"
        number: 1
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".cy.A"
        json_name: "a"
      }
    }
    message_type {
      name: "A"
      field {
        name: "b"
        number: 1
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".cy.B"
        json_name: "b"
      }
      field {
        name: "root"
        number: 2
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".cy.Root"
        json_name: "root"
      }
    }
  )pb");
  Json schema = SchemaOf(types.Find("cy.Root"));
  EXPECT_EQ(Property(schema, "a"), J(R"({"$ref":"#/$defs/cy.A"})"));
  ASSERT_EQ(schema["$defs"].size(), 1u);
  const Json& a = schema["$defs"]["cy.A"];
  EXPECT_EQ(a["properties"]["b"]["properties"]["a"], J(R"({"$ref":"#/$defs/cy.A"})"));
  EXPECT_EQ(a["properties"]["root"], J(R"({"$ref":"#"})"));
}

TEST(McpJsonSchemaTest, DefsAreSortedAndOutputIsDeterministic) {
  DynamicTypes types(R"pb(
    name: "defs.proto"
    package: "d"
    syntax: "proto3"
    message_type {
      name: "Zed"
      field { name: "v" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "v" }
    }
    message_type {
      name: "Alpha"
      field { name: "v" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "v" }
    }
    message_type {
      name: "Root"
      field {
        name: "z1"
        number: 1
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".d.Zed"
        json_name: "z1"
      }
      field {
        name: "z2"
        number: 2
        label: LABEL_REPEATED
        type: TYPE_MESSAGE
        type_name: ".d.Zed"
        json_name: "z2"
      }
      field {
        name: "a1"
        number: 3
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".d.Alpha"
        json_name: "a1"
      }
      field {
        name: "a2"
        number: 4
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".d.Alpha"
        json_name: "a2"
      }
    }
  )pb");
  Json schema = SchemaOf(types.Find("d.Root"));
  std::vector<std::string> defs;
  for (auto it = schema["$defs"].begin(); it != schema["$defs"].end(); ++it)
    defs.push_back(it.key());
  EXPECT_EQ(defs, (std::vector<std::string>{"d.Alpha", "d.Zed"}));
  EXPECT_EQ(schema.dump(), SchemaOf(types.Find("d.Root")).dump());
  EXPECT_EQ(SchemaOf(JsonTypes::descriptor()).dump(), SchemaOf(JsonTypes::descriptor()).dump());
}

TEST(McpJsonSchemaTest, EnumsAreValueNames) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  EXPECT_EQ(
      Property(schema, "fEnum"),
      J(R"({"type":"string","enum":["JSON_COLOR_UNSPECIFIED","JSON_COLOR_RED","JSON_COLOR_GREEN","JSON_COLOR_BLUE"]})"));
  EXPECT_EQ(Property(schema, "pEnum"), Property(schema, "fEnum"));
  EXPECT_EQ(Property(schema, "wNull"),
            J(R"({"type":["null","string"],"enum":[null,"NULL_VALUE"]})"));
}

TEST(McpJsonSchemaTest, WellKnownTypesFollowTheProto3JsonMapping) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  EXPECT_EQ(Property(schema, "wTimestamp"), J(R"({"type":"string","format":"date-time"})"));
  EXPECT_EQ(Property(schema, "wDuration"),
            J(R"({"type":"string","pattern":"^-?[0-9]+(\\.[0-9]{1,9})?s$"})"));
  EXPECT_EQ(Property(schema, "wFieldMask"), J(R"({"type":"string"})"));
  EXPECT_EQ(Property(schema, "wStruct"), J(R"({"type":"object"})"));
  EXPECT_EQ(Property(schema, "wValue"), Json::object());
  EXPECT_EQ(Property(schema, "wList"), J(R"({"type":"array"})"));
  EXPECT_EQ(Property(schema, "wEmpty"), J(R"({"type":"object","properties":{}})"));
  EXPECT_EQ(Property(schema, "wBool"), J(R"({"type":["boolean","null"]})"));
  EXPECT_EQ(Property(schema, "wString"), J(R"({"type":["string","null"]})"));
  EXPECT_EQ(Property(schema, "wBytes"),
            J(R"({"type":["string","null"],"contentEncoding":"base64"})"));
  EXPECT_EQ(Property(schema, "wInt32"),
            J(R"({"type":["integer","null"],"minimum":-2147483648,"maximum":2147483647})"));
  EXPECT_EQ(Property(schema, "wUint32"),
            J(R"({"type":["integer","null"],"minimum":0,"maximum":4294967295})"));
  EXPECT_EQ(Property(schema, "wInt64"),
            J(R"({"type":["integer","string","null"],"pattern":"^-?[0-9]+$"})"));
  EXPECT_EQ(Property(schema, "wUint64"),
            J(R"({"type":["integer","string","null"],"pattern":"^[0-9]+$","minimum":0})"));
  EXPECT_EQ(Property(schema, "wDouble"),
            J(R"({"type":["number","string","null"],"pattern":"^(NaN|-?Infinity)$"})"));
  EXPECT_EQ(Property(schema, "wFloat"), Property(schema, "wDouble"));
  EXPECT_EQ(Property(schema, "rwStruct"), J(R"({"type":"array","items":{"type":"object"}})"));
  EXPECT_EQ(Property(schema, "rwDuration")["items"]["type"], "string");
}

TEST(McpJsonSchemaTest, WellKnownRootsAndIsJsonObjectType) {
  const std::string dialect = "https://json-schema.org/draft/2020-12/schema";
  EXPECT_EQ(SchemaOf(gp::Timestamp::descriptor()),
            Json({{"$schema", dialect}, {"type", "string"}, {"format", "date-time"}}));
  EXPECT_EQ(SchemaOf(gp::Value::descriptor()), Json({{"$schema", dialect}}));
  EXPECT_EQ(SchemaOf(gp::Int64Value::descriptor())["type"], J(R"(["integer","string","null"])"));
  EXPECT_EQ(SchemaOf(gp::ListValue::descriptor())["type"], "array");
  EXPECT_EQ(SchemaOf(gp::Struct::descriptor())["type"], "object");
  EXPECT_EQ(SchemaOf(gp::Empty::descriptor()),
            Json({{"$schema", dialect}, {"type", "object"}, {"properties", Json::object()}}));
  EXPECT_EQ(SchemaOf(gp::Any::descriptor()),
            Json({{"$schema", dialect},
                  {"type", "object"},
                  {"properties", {{"@type", {{"type", "string"}}}}},
                  {"required", Json::array({"@type"})}}));

  EXPECT_TRUE(IsJsonObjectType(JsonTypes::descriptor()));
  EXPECT_TRUE(IsJsonObjectType(gp::Struct::descriptor()));
  EXPECT_TRUE(IsJsonObjectType(gp::Any::descriptor()));
  EXPECT_TRUE(IsJsonObjectType(gp::Empty::descriptor()));
  EXPECT_FALSE(IsJsonObjectType(gp::Timestamp::descriptor()));
  EXPECT_FALSE(IsJsonObjectType(gp::Duration::descriptor()));
  EXPECT_FALSE(IsJsonObjectType(gp::Value::descriptor()));
  EXPECT_FALSE(IsJsonObjectType(gp::ListValue::descriptor()));
  EXPECT_FALSE(IsJsonObjectType(gp::StringValue::descriptor()));
  EXPECT_FALSE(IsJsonObjectType(nullptr));
}

TEST(McpJsonSchemaTest, OneofMembersArePropertiesAndAtMostOneIsSet) {
  Json schema = SchemaOf(JsonTypes::descriptor());
  const std::vector<std::string> members = {"oString", "oInt32", "oNested", "oEnum", "oValue"};
  for (const std::string& m : members) EXPECT_TRUE(schema["properties"].contains(m)) << m;
  Json expected = Json::array();
  for (size_t a = 0; a < members.size(); ++a) {
    for (size_t b = a + 1; b < members.size(); ++b) {
      expected.push_back({{"not", {{"required", Json::array({members[a], members[b]})}}}});
    }
  }
  EXPECT_EQ(schema["allOf"], expected);
  EXPECT_EQ(schema["allOf"].size(), 10u);
  // proto3 `optional` makes a synthetic oneof: a plain property, no constraint.
  EXPECT_EQ(Property(schema, "pInt32")["type"], "integer");
  EXPECT_EQ(Property(schema, "pString"), J(R"({"type":"string"})"));
}

TEST(McpJsonSchemaTest, RequiredComesFromTheKeiRequiredOption) {
  EXPECT_EQ(SchemaOf(agent::v1::PlanRequest::descriptor())["required"], J(R"(["objective"])"));
  EXPECT_EQ(SchemaOf(agent::v1::ObserveRequest::descriptor())["required"],
            J(R"(["source","content"])"));
  EXPECT_FALSE(SchemaOf(agent::v1::PlanResponse::descriptor()).contains("required"));
}

TEST(McpJsonSchemaTest, RequiredIsReadAlsoWhenTheOptionIsAnUnknownField) {
  // A type from a descriptor set whose annotations are not linked in: the
  // option survives only as unknown field 51020 of FieldOptions.
  gp::FileDescriptorProto file;
  ASSERT_TRUE(gp::TextFormat::ParseFromString(R"pb(
                                                name: "unknown_required.proto"
                                                package: "ur"
                                                syntax: "proto3"
                                                message_type {
                                                  name: "Req"
                                                  field {
                                                    name: "must_have"
                                                    number: 1
                                                    label: LABEL_OPTIONAL
                                                    type: TYPE_STRING
                                                    json_name: "mustHave"
                                                  }
                                                  field {
                                                    name: "may_have"
                                                    number: 2
                                                    label: LABEL_OPTIONAL
                                                    type: TYPE_STRING
                                                    json_name: "mayHave"
                                                  }
                                                  field {
                                                    name: "not_really"
                                                    number: 3
                                                    label: LABEL_OPTIONAL
                                                    type: TYPE_STRING
                                                    json_name: "notReally"
                                                  }
                                                }
                                              )pb",
                                              &file));
  file.mutable_message_type(0)
      ->mutable_field(0)
      ->mutable_options()
      ->mutable_unknown_fields()
      ->AddVarint(51020, 1);
  file.mutable_message_type(0)
      ->mutable_field(2)
      ->mutable_options()
      ->mutable_unknown_fields()
      ->AddVarint(51020, 0);
  DynamicTypes types(file);
  EXPECT_EQ(SchemaOf(types.Find("ur.Req"))["required"], J(R"(["mustHave"])"));
}

TEST(McpJsonSchemaTest, DescriptionsComeFromDescribe) {
  const std::map<std::string, std::string> texts = {
      {"kei.test.v1.JsonTypes", "Every JSON shape."},
      {"kei.test.v1.JsonTypes.f_int32", "A 32-bit integer."},
      {"kei.test.v1.JsonTypes.f_nested", "The nested one."},
      {"kei.test.v1.JsonTypes.r_string", "Some strings."},
      {"kei.test.v1.JsonTypes.m_string_string", "Labels."},
      {"kei.test.v1.JsonTypes.w_timestamp", "When."},
      {"kei.test.v1.JsonTypes.w_value", "Anything."},
      {"kei.test.v1.JsonTypes.f_enum", "The color."},
      {"kei.test.v1.JsonTypes.Nested", "A node."},
      {"kei.test.v1.JsonTypes.Nested.a", "Field a."},
      {"kei.test.v1.JsonColor", "A color."},
      {"kei.test.v1.JsonColor.JSON_COLOR_RED", "Like fire."},
      {"kei.test.v1.JsonColor.JSON_COLOR_BLUE", "Like the sea."},
  };
  JsonSchemaOptions options;
  options.describe = [&](absl::string_view name) {
    auto it = texts.find(std::string(name));
    return it == texts.end() ? std::string() : it->second;
  };
  Json schema = SchemaOf(JsonTypes::descriptor(), options);
  EXPECT_EQ(schema["description"], "Every JSON shape.");
  EXPECT_EQ(Property(schema, "fInt32")["description"], "A 32-bit integer.");
  EXPECT_EQ(Property(schema, "fNested"),
            Json({{"description", "The nested one."}, {"$ref", kNestedRef}}));
  EXPECT_EQ(Property(schema, "rString"),
            J(R"({"description":"Some strings.","type":"array","items":{"type":"string"}})"));
  EXPECT_EQ(Property(schema, "mStringString")["description"], "Labels.");
  EXPECT_EQ(Property(schema, "wTimestamp")["description"], "When.");
  EXPECT_EQ(Property(schema, "wValue"), J(R"({"description":"Anything."})"));
  EXPECT_FALSE(Property(schema, "fString").contains("description"));
  // An enum field: the field's text, then the values'; without a field text,
  // the enum's own.
  const std::string values = "JSON_COLOR_RED: Like fire.\nJSON_COLOR_BLUE: Like the sea.";
  EXPECT_EQ(Property(schema, "fEnum")["description"], "The color.\n\n" + values);
  EXPECT_EQ(Property(schema, "pEnum")["description"], "A color.\n\n" + values);
  EXPECT_EQ(Property(schema, "rEnum")["items"]["description"], "A color.\n\n" + values);
  const Json& nested = schema["$defs"]["kei.test.v1.JsonTypes.Nested"];
  EXPECT_EQ(nested["description"], "A node.");
  EXPECT_EQ(nested["properties"]["a"]["description"], "Field a.");
}

TEST(McpJsonSchemaTest, EnumValuesAreAlsoDescribedByProtobufsFullName) {
  // EnumValueDescriptor::full_name() is "pkg.VALUE" (C++ scoping), which is how
  // comment tables keyed by protobuf full names know them.
  JsonSchemaOptions options;
  options.describe = [](absl::string_view name) {
    return name == "kei.test.v1.JSON_COLOR_GREEN" ? std::string("Like grass.") : std::string();
  };
  Json schema = SchemaOf(JsonTypes::descriptor(), options);
  EXPECT_EQ(Property(schema, "fEnum")["description"], "JSON_COLOR_GREEN: Like grass.");
}

TEST(McpJsonSchemaTest, InvalidUtf8InDescriptionsIsReplaced) {
  JsonSchemaOptions options;
  options.describe = [](absl::string_view name) {
    return name == "kei.test.v1.JsonTypes" ? std::string("bad \xff byte") : std::string();
  };
  Json schema = SchemaOf(JsonTypes::descriptor(), options);
  EXPECT_EQ(schema["description"], "bad \xEF\xBF\xBD byte");
  EXPECT_NO_THROW(schema.dump());
}

TEST(McpJsonSchemaTest, FailuresAreStatusesNotExceptions) {
  EXPECT_EQ(MessageJsonSchema(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  JsonSchemaOptions options;
  options.describe = [](absl::string_view) -> std::string { throw std::runtime_error("boom"); };
  auto schema = MessageJsonSchema(JsonTypes::descriptor(), options);
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(schema.status().message().find("boom"), absl::string_view::npos);
}

}  // namespace
}  // namespace kei::mcp
