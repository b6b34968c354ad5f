// Interop: the JSON Schemas that MCP tools advertise (cc/mcp/json_schema.h)
// checked by real validators, Ajv 2020 in strict mode and the validator of MCP's
// TypeScript SDK (tests/interop/json_schema_check.mjs): every schema compiles,
// protobuf's own proto3 JSON (MessageToJsonString of populated messages: int64
// as strings, enums, maps, bytes, well-known types, NaN/Infinity, recursion)
// validates, and wrong types, bad formats, two oneof members and missing
// required fields are rejected. Each hand-written instance is also given to
// protobuf's JsonStringToMessage, so the schemas are shown to agree with the
// parser (except "required", which is the schema's own rule).
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cc/mcp/json_schema.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "kei/agent/v1/agent.pb.h"
#include "kei/test/v1/json_types.pb.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

namespace gp = google::protobuf;
using test::v1::JsonColor;
using test::v1::JsonTypes;

// A JSON instance and whether the schema must accept it.
struct Instance {
  std::string json;
  bool valid = true;
};

class JsonSchemaAjvInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = FindTestFile("tests/interop/json_schema_check.mjs", "KEI_JSON_SCHEMA_CHECK");
    ASSERT_FALSE(script_.empty());
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = absl::StrCat(::testing::TempDir(), "/", name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  // Runs the validators on `type`'s schema and `instances`; expects every
  // check to pass.
  void Check(const gp::Descriptor* type, const std::vector<Instance>& instances) {
    auto schema = mcp::MessageJsonSchema(type);
    ASSERT_TRUE(schema.ok()) << schema.status();
    const std::string prefix = absl::StrCat("schema_", ++files_, "_", type->full_name());
    std::vector<std::string> argv = {"node", script_, WriteFile(prefix + ".json", schema->dump(2))};
    std::vector<std::string> invalid;
    for (size_t i = 0; i < instances.size(); ++i) {
      std::string path =
          WriteFile(absl::StrCat(prefix, "_instance_", i, ".json"), instances[i].json);
      (instances[i].valid ? argv : invalid).push_back(path);
    }
    if (!invalid.empty()) {
      argv.push_back("--invalid");
      argv.insert(argv.end(), invalid.begin(), invalid.end());
    }
    auto result = RunCommand(argv, absl::Seconds(60));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->exit_code, 0) << type->full_name() << "\n" << result->output;
    EXPECT_FALSE(absl::StrContains(result->output, "not ok")) << result->output;
    // The schema line, then one line per instance from each of the two validators.
    size_t ok_lines = 0;
    for (absl::string_view line : absl::StrSplit(result->output, '\n')) {
      if (absl::StartsWith(line, "ok ")) ++ok_lines;
    }
    EXPECT_EQ(ok_lines, 1 + 2 * instances.size()) << result->output;
  }

  std::string script_;
  int files_ = 0;
};

std::string ToJson(const gp::Message& message, bool print_defaults = false) {
  gp::util::JsonPrintOptions options;
  options.always_print_primitive_fields = print_defaults;
  std::string json;
  EXPECT_TRUE(gp::util::MessageToJsonString(message, &json, options).ok());
  return json;
}

// Whether protobuf's parser accepts `json` as `type`.
bool ProtobufAccepts(const gp::Message& prototype, const std::string& json) {
  std::unique_ptr<gp::Message> message(prototype.New());
  return gp::util::JsonStringToMessage(json, message.get()).ok();
}

JsonTypes::Nested Node(int a, const std::string& b, JsonColor color) {
  JsonTypes::Nested n;
  n.set_a(a);
  n.set_b(b);
  n.set_color(color);
  return n;
}

// Every field set to an ordinary value.
JsonTypes Populated() {
  JsonTypes m;
  m.set_f_double(1.5);
  m.set_f_float(-2.25f);
  m.set_f_int32(std::numeric_limits<int32_t>::min());
  m.set_f_int64(std::numeric_limits<int64_t>::min());
  m.set_f_uint32(std::numeric_limits<uint32_t>::max());
  m.set_f_uint64(std::numeric_limits<uint64_t>::max());
  m.set_f_sint32(-7);
  m.set_f_sint64(-9007199254740993LL);
  m.set_f_fixed32(7);
  m.set_f_fixed64(18446744073709551615ULL);
  m.set_f_sfixed32(std::numeric_limits<int32_t>::max());
  m.set_f_sfixed64(std::numeric_limits<int64_t>::max());
  m.set_f_bool(true);
  m.set_f_string("héllo \"world\"");
  m.set_f_bytes(std::string("\x00\xff\x10 bytes", 9));
  m.set_f_enum(test::v1::JSON_COLOR_BLUE);
  *m.mutable_f_nested() = Node(1, "root", test::v1::JSON_COLOR_RED);
  *m.mutable_f_nested()->add_children() = Node(2, "child", test::v1::JSON_COLOR_GREEN);
  *m.mutable_f_nested()->mutable_children(0)->add_children() = Node(3, "grandchild", {});

  m.add_r_double(0.1);
  m.add_r_float(3.0f);
  m.add_r_int32(-1);
  m.add_r_int64(42);
  m.add_r_uint32(1);
  m.add_r_uint64(2);
  m.add_r_sint32(-3);
  m.add_r_sint64(-4);
  m.add_r_fixed32(5);
  m.add_r_fixed64(6);
  m.add_r_sfixed32(-7);
  m.add_r_sfixed64(-8);
  m.add_r_bool(false);
  m.add_r_string("a");
  m.add_r_bytes("bytes");
  m.add_r_enum(test::v1::JSON_COLOR_RED);
  m.add_r_enum(test::v1::JSON_COLOR_UNSPECIFIED);
  *m.add_r_nested() = Node(4, "r", test::v1::JSON_COLOR_BLUE);

  (*m.mutable_m_string_string())["k"] = "v";
  (*m.mutable_m_int32_int32())[-1] = 1;
  (*m.mutable_m_int64_int64())[-9223372036854775807LL] = 9223372036854775807LL;
  (*m.mutable_m_uint32_uint32())[4294967295u] = 4294967295u;
  (*m.mutable_m_uint64_uint64())[18446744073709551615ULL] = 18446744073709551615ULL;
  (*m.mutable_m_sint32_double())[-2] = 2.5;
  (*m.mutable_m_sint64_float())[-3] = 3.5f;
  (*m.mutable_m_fixed32_bool())[4] = true;
  (*m.mutable_m_fixed64_bytes())[5] = "\x01\x02";
  (*m.mutable_m_sfixed32_enum())[-6] = test::v1::JSON_COLOR_GREEN;
  (*m.mutable_m_sfixed64_nested())[-7] = Node(7, "map", test::v1::JSON_COLOR_RED);
  (*m.mutable_m_bool_string())[true] = "yes";
  (*m.mutable_m_bool_string())[false] = "no";
  (*m.mutable_m_string_nested())["n"] = Node(8, "m", {});
  (*m.mutable_m_string_value())["list"].mutable_list_value()->add_values()->set_number_value(1);
  (*m.mutable_m_string_value())["null"].set_null_value(gp::NULL_VALUE);

  *m.mutable_o_nested() = Node(9, "oneof", test::v1::JSON_COLOR_BLUE);
  m.set_p_int32(0);
  m.set_p_string("");
  m.set_p_enum(test::v1::JSON_COLOR_UNSPECIFIED);
  m.set_p_double(-0.0);

  m.mutable_w_timestamp()->set_seconds(1700000000);
  m.mutable_w_timestamp()->set_nanos(123456789);
  m.mutable_w_duration()->set_seconds(-90);
  m.mutable_w_duration()->set_nanos(-500000000);
  (*m.mutable_w_struct()->mutable_fields())["s"].set_string_value("x");
  (*m.mutable_w_struct()->mutable_fields())["o"].mutable_struct_value();
  m.mutable_w_value()->set_bool_value(true);
  m.mutable_w_list()->add_values()->set_string_value("item");
  m.mutable_w_list()->add_values()->set_null_value(gp::NULL_VALUE);
  m.mutable_w_field_mask()->add_paths("f_nested.a");
  m.mutable_w_field_mask()->add_paths("r_string");
  m.mutable_w_empty();
  m.mutable_w_double()->set_value(2.5);
  m.mutable_w_float()->set_value(-1.0f);
  m.mutable_w_int64()->set_value(-5);
  m.mutable_w_uint64()->set_value(5);
  m.mutable_w_int32()->set_value(-6);
  m.mutable_w_uint32()->set_value(6);
  m.mutable_w_bool()->set_value(false);
  m.mutable_w_string()->set_value("s");
  m.mutable_w_bytes()->set_value("b");
  m.set_w_null(gp::NULL_VALUE);

  m.add_rw_timestamp()->set_seconds(-62135596800);  // 0001-01-01T00:00:00Z
  m.add_rw_value()->set_string_value("v");
  m.add_rw_int32()->set_value(1);
  m.add_rw_struct();
  m.add_rw_duration()->set_nanos(1000);
  m.set_custom_named(11);
  m.set_field_with_2_under__scores(12);
  return m;
}

TEST_F(JsonSchemaAjvInteropTest, JsonTypesAcceptsProtobufOutputAndRejectsBadInput) {
  std::vector<Instance> instances;
  JsonTypes populated = Populated();
  instances.push_back({ToJson(populated)});
  instances.push_back({ToJson(populated, /*print_defaults=*/true)});
  instances.push_back({ToJson(JsonTypes())});
  instances.push_back(
      {ToJson(JsonTypes(), /*print_defaults=*/true)});  // "wNull": "NULL_VALUE", []s, {}s

  JsonTypes special;  // non-finite floats, oneof scalars, Value null
  special.set_f_double(std::nan(""));
  special.set_f_float(std::numeric_limits<float>::infinity());
  special.add_r_double(-std::numeric_limits<double>::infinity());
  special.mutable_w_double()->set_value(std::nan(""));
  special.mutable_o_value()->set_null_value(gp::NULL_VALUE);
  instances.push_back({ToJson(special)});
  JsonTypes oneof_enum;
  oneof_enum.set_o_enum(test::v1::JSON_COLOR_GREEN);
  instances.push_back({ToJson(oneof_enum)});
  for (const Instance& i : instances) {
    EXPECT_TRUE(ProtobufAccepts(JsonTypes(), i.json)) << i.json;
  }

  // Hand-written input that protobuf's parser takes too.
  const std::vector<std::string> accepted = {
      R"({"fInt64": 5, "fUint64": "18446744073709551615", "rSint64": [-1, "-2"]})",
      R"({"fDouble": "Infinity", "fFloat": "-Infinity", "rDouble": ["NaN", 1e300]})",
      R"({"wInt32": null, "wString": null, "wBytes": "AAE=", "wNull": null})",
      R"({"wNull": "NULL_VALUE", "rwValue": [null, "s", 1, true, {}, []]})",
      R"({"mBoolString": {"true": "t"}, "mInt32Int32": {"-5": 5}, "mStringValue": {"a": [1, {"b": null}]}})",
      R"({"oString": "only one", "renamed": 1, "fieldWith2UnderScores": 2})",
      R"({"fNested": {"children": [{"children": [{"a": 1, "color": "JSON_COLOR_RED"}]}]}})",
      R"({"wTimestamp": "2024-02-29T23:59:59.5+01:00", "wDuration": "0.000000001s"})",
  };
  for (const std::string& json : accepted) {
    EXPECT_TRUE(ProtobufAccepts(JsonTypes(), json)) << json;
    instances.push_back({json});
  }
  // Rejected by protobuf's parser and by the schema.
  const std::vector<std::string> rejected = {
      R"({"fInt32": "abc"})",
      R"({"fInt32": 2147483648})",
      R"({"fUint32": -1})",
      R"({"fInt64": "12x"})",
      R"({"fUint64": "-1"})",
      R"({"fString": 5})",
      R"({"fDouble": "lots"})",
      R"({"fEnum": "JSON_COLOR_PURPLE"})",
      R"({"rInt32": [1, "one"]})",
      R"({"mInt32Int32": {"one": 1}})",
      R"({"fNested": {"a": "not a number"}})",
      R"({"fNested": {"children": [{"children": [{"b": 7}]}]}})",
      R"({"mStringNested": {"k": {"color": 3.5}}})",
      R"({"oString": "a", "oInt32": 1})",
      R"({"wDuration": "5 minutes"})",
      R"({"wTimestamp": "yesterday"})",
      R"({"wStruct": [1]})",
  };
  for (const std::string& json : rejected) {
    EXPECT_FALSE(ProtobufAccepts(JsonTypes(), json)) << json;
    instances.push_back({json, /*valid=*/false});
  }
  // Rejected by the schema, which follows the proto3 JSON mapping, although
  // protobuf 3.21's parser is lenient here (it reads any string as a bool,
  // an object as an empty ListValue, 0 as NullValue).
  const std::vector<std::string> lenient = {
      R"({"fBool": "yes"})", R"({"wBool": "true"})", R"({"mBoolString": {"yes": "x"}})",
      R"({"wList": {}})",    R"({"wNull": 0})",
  };
  for (const std::string& json : lenient) {
    EXPECT_TRUE(ProtobufAccepts(JsonTypes(), json)) << json;  // if this fails, move it up
    instances.push_back({json, /*valid=*/false});
  }
  Check(JsonTypes::descriptor(), instances);
}

TEST_F(JsonSchemaAjvInteropTest, RecursiveRoot) {
  JsonTypes::Nested tree = Node(1, "a", test::v1::JSON_COLOR_RED);
  *tree.add_children() = Node(2, "b", {});
  *tree.mutable_children(0)->add_children() = Node(3, "c", test::v1::JSON_COLOR_BLUE);
  Check(JsonTypes::Nested::descriptor(),
        {{ToJson(tree)}, {R"({"children": [{"children": [{"a": 1.5}]}]})", false}});
}

TEST_F(JsonSchemaAjvInteropTest, AgentMessagesAndRequiredFields) {
  agent::v1::PlanRequest plan;
  plan.set_objective("echo hello");
  plan.set_max_steps(3);
  Check(agent::v1::PlanRequest::descriptor(), {{ToJson(plan)},
                                               {R"({"objective": "x"})"},
                                               {R"({})", false},
                                               {R"({"maxSteps": 2})", false},
                                               {R"({"objective": 5})", false}});

  agent::v1::ObserveRequest observe;
  observe.set_source("sensor-1");
  observe.set_content("hot");
  (*observe.mutable_labels())["room"] = "kitchen";
  Check(agent::v1::ObserveRequest::descriptor(),
        {{ToJson(observe)}, {R"({"source": "s"})", false}, {R"({"labels": {"a": 1}})", false}});

  agent::v1::ActRequest act;
  act.set_action("add");
  auto* values = (*act.mutable_params()->mutable_fields())["values"].mutable_list_value();
  values->add_values()->set_number_value(1);
  values->add_values()->set_number_value(2.5);
  Check(agent::v1::ActRequest::descriptor(),
        {{ToJson(act)}, {R"({"action": "echo", "params": "text"})", false}});

  agent::v1::ActResponse act_response;
  act_response.set_action("add");
  act_response.mutable_output()->set_number_value(3.5);
  act_response.set_event_sequence(18446744073709551615ULL);
  agent::v1::ObserveResponse observed;
  observed.set_observation_id("obs-1");
  observed.set_sequence(7);
  observed.mutable_recorded_at()->set_seconds(1700000000);
  Check(agent::v1::ActResponse::descriptor(), {{ToJson(act_response)}});
  Check(agent::v1::ObserveResponse::descriptor(),
        {{ToJson(observed)}, {R"({"recordedAt": 1700000000})", false}});
}

TEST_F(JsonSchemaAjvInteropTest, EverySchemaOfTheAgentProtoCompiles) {
  // "{}" is valid exactly when the root requires nothing.
  const gp::FileDescriptor* file = agent::v1::PlanRequest::descriptor()->file();
  for (int i = 0; i < file->message_type_count(); ++i) {
    auto schema = mcp::MessageJsonSchema(file->message_type(i));
    ASSERT_TRUE(schema.ok()) << schema.status();
    Check(file->message_type(i), {{"{}", !schema->contains("required")}});
  }
}

}  // namespace
}  // namespace kei::testing
