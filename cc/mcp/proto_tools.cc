#include "cc/mcp/proto_tools.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cc/codec/json_codec.h"
#include "cc/mcp/json_schema.h"
#include "cc/registry/kit_option.h"
#include "cc/registry/proto_comments.h"
#include "google/protobuf/descriptor.pb.h"

namespace kei::mcp {
namespace {

namespace gp = google::protobuf;

constexpr char kMcpExtension[] = "kei.v1.mcp";
constexpr char kMcpOptionsType[] = "kei.v1.McpToolOptions";
constexpr int kMcpExtensionNumber = 51002;  // proto/kei/v1/annotations.proto

// kei.v1.McpToolOptions, copied out of the method's options.
struct McpOptions {
  bool disabled = false;
  std::string name;
  std::string title;
  std::string description;
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
  bool open_world = false;
  bool present = false;
};

McpOptions ReadOptions(const gp::Message& m) {
  McpOptions out;
  out.present = true;
  const gp::Reflection* r = m.GetReflection();
  auto str = [&](const char* name) {
    const gp::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
    return f && f->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING ? r->GetString(m, f)
                                                                      : std::string();
  };
  auto flag = [&](const char* name) {
    const gp::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
    return f && f->cpp_type() == gp::FieldDescriptor::CPPTYPE_BOOL && r->GetBool(m, f);
  };
  out.disabled = flag("disabled");
  out.name = str("name");
  out.title = str("title");
  out.description = str("description");
  out.read_only = flag("read_only_hint");
  out.destructive = flag("destructive_hint");
  out.idempotent = flag("idempotent_hint");
  out.open_world = flag("open_world_hint");
  return out;
}

// Read through reflection, so methods from descriptor sets loaded at run time
// work as well as compiled-in ones. An option that cannot be read counts as
// absent (the method keeps its derived name and description).
McpOptions FindOptions(const gp::MethodDescriptor* method) {
  auto found = FindKitOption(method->options(), method->file()->pool(), kMcpExtension,
                             kMcpExtensionNumber, kMcpOptionsType);
  if (!found.ok() || *found == nullptr) return {};
  return ReadOptions(**found);
}

const JsonCodec& Codec() {
  static const JsonCodec* codec = new JsonCodec();
  return *codec;
}

}  // namespace

std::string ToolNameForMethod(const gp::MethodDescriptor* method) {
  if (method == nullptr) return "";
  McpOptions options = FindOptions(method);
  if (!options.name.empty()) return options.name;
  return absl::StrCat(method->service()->name(), "_", method->name());
}

std::string FallbackToolName(const gp::MethodDescriptor* method) {
  return absl::StrCat(absl::StrReplaceAll(method->service()->full_name(), {{".", "_"}}), "_",
                      method->name());
}

std::string ToolNameForMethod(const MethodHandler& method) {
  return ToolNameForMethod(method.info.descriptor);
}

absl::StatusOr<Tool> ToolForMethod(const MethodHandler& method, const Dispatcher& dispatcher) {
  const gp::MethodDescriptor* d = method.info.descriptor;
  if (d == nullptr || !method.unary) {
    return absl::InvalidArgumentError(absl::StrCat(method.info.full_name, " is not a unary method"));
  }
  McpOptions options = FindOptions(d);
  if (options.disabled) {
    return absl::FailedPreconditionError(absl::StrCat(method.info.full_name, " opts out of MCP"));
  }
  Tool tool;
  tool.name = ToolNameForMethod(method);
  tool.title = options.title;
  tool.description =
      !options.description.empty() ? options.description : ProtoComments::Find(d->full_name());
  if (tool.description.empty()) tool.description = absl::StrCat("Calls ", method.info.full_name, ".");
  JsonSchemaOptions schema_options;
  schema_options.describe = [](absl::string_view name) { return ProtoComments::Find(name); };
  auto input = MessageJsonSchema(d->input_type(), schema_options);
  if (!input.ok()) return input.status();
  tool.input_schema = *std::move(input);
  if (IsJsonObjectType(d->output_type())) {
    auto output = MessageJsonSchema(d->output_type(), schema_options);
    if (!output.ok()) return output.status();
    tool.output_schema = *std::move(output);
  }
  Json annotations = Json::object();
  if (!options.title.empty()) annotations["title"] = options.title;
  bool read_only = options.read_only || method.info.side_effect_free;
  if (read_only) annotations["readOnlyHint"] = true;
  if (!read_only) annotations["destructiveHint"] = options.destructive;
  if (options.idempotent || method.info.idempotent) annotations["idempotentHint"] = true;
  annotations["openWorldHint"] = options.open_world;
  tool.annotations = std::move(annotations);

  const MethodHandler* target = &method;
  const Dispatcher* via = &dispatcher;
  bool structured = !tool.output_schema.is_null();
  std::string name = tool.name;
  tool.handler = [target, via, structured, name](const Json& arguments,
                                                RequestContext& request) -> absl::StatusOr<ToolResult> {
    std::unique_ptr<gp::Message> in(target->request_prototype->New());
    if (absl::Status s = Codec().Unmarshal(DumpJson(arguments), in.get()); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid arguments for tool ", name, ": ", s.message()));
    }
    std::unique_ptr<gp::Message> out(target->response_prototype->New());
    if (absl::Status s = via->Unary(*target, request.call(), *in, out.get()); !s.ok()) {
      return ToolResult::Error(s);
    }
    std::string text;
    if (absl::Status s = Codec().Marshal(*out, &text); !s.ok()) return ToolResult::Error(s);
    ToolResult result = ToolResult::Text(text);
    if (structured) {
      auto parsed = ParseJsonText(text);
      if (parsed.ok() && parsed->is_object()) result.structured_content = *std::move(parsed);
    }
    return result;
  };
  return tool;
}

absl::Status AddProtoTools(McpServer& server, const Dispatcher& dispatcher) {
  for (const MethodHandler* method : dispatcher.registry().Handlers()) {
    if (method->info.kind != StreamKind::kUnary || !method->unary) continue;
    auto tool = ToolForMethod(*method, dispatcher);
    if (!tool.ok()) {
      if (tool.status().code() == absl::StatusCode::kFailedPrecondition) continue;  // opted out
      return tool.status();
    }
    absl::Status added = server.AddTool(*tool);
    if (added.code() == absl::StatusCode::kAlreadyExists) {
      tool->name = FallbackToolName(method->info.descriptor);
      added = server.AddTool(*std::move(tool));
    }
    if (!added.ok()) return added;
  }
  return absl::OkStatus();
}

}  // namespace kei::mcp
