#include "tests/interop/mcp/conformance_fixtures.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kei::testing {
namespace {

using mcp::Json;
using mcp::RequestContext;
using mcp::ToolResult;

// A 1x1 PNG and a silent WAV header, base64.
constexpr char kPng[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
constexpr char kWav[] = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

Json Text(std::string text) { return Json{{"type", "text"}, {"text", std::move(text)}}; }
Json Image() { return Json{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}; }
Json EmbeddedResource(std::string uri, std::string mime, std::string text) {
  return Json{{"type", "resource"},
              {"resource", {{"uri", std::move(uri)}, {"mimeType", std::move(mime)}, {"text", std::move(text)}}}};
}

ToolResult Content(Json content) {
  ToolResult r;
  r.content = std::move(content);
  return r;
}

mcp::Tool MakeTool(std::string name, std::string description, mcp::ToolHandler handler,
                   bool streams = false, Json input_schema = Json{{"type", "object"}}) {
  mcp::Tool tool;
  tool.name = std::move(name);
  tool.description = std::move(description);
  tool.handler = std::move(handler);
  tool.streams_notifications = streams;
  tool.input_schema = std::move(input_schema);
  return tool;
}

Json StringArgSchema(const char* name) {
  return Json{{"type", "object"},
              {"properties", {{name, {{"type", "string"}}}}},
              {"required", Json::array({name})}};
}

mcp::PromptResult Messages(Json messages) {
  mcp::PromptResult r;
  r.messages = std::move(messages);
  return r;
}

Json UserMessage(Json content) { return Json{{"role", "user"}, {"content", std::move(content)}}; }

absl::StatusOr<ToolResult> Elicit(RequestContext& request, Json params) {
  auto answer = request.RequestClient("elicitation/create", std::move(params));
  if (!answer.ok()) return ToolResult::Error(answer.status());
  return ToolResult::Text(absl::StrCat("User response: action=", answer->value("action", ""),
                                       ", content=", mcp::DumpJson(answer->value("content", Json::object()))));
}

}  // namespace

absl::Status AddConformanceFixtures(mcp::McpServer& server) {
  std::vector<mcp::Tool> tools;
  tools.push_back(MakeTool("test_simple_text", "Returns a simple text response.",
                           [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
                             return ToolResult::Text("This is a simple text response for testing.");
                           }));
  tools.push_back(MakeTool("test_image_content", "Returns an image.",
                           [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
                             return Content(Json::array({Image()}));
                           }));
  tools.push_back(MakeTool("test_audio_content", "Returns audio.",
                           [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
                             return Content(Json::array(
                                 {Json{{"type", "audio"}, {"data", kWav}, {"mimeType", "audio/wav"}}}));
                           }));
  tools.push_back(MakeTool("test_embedded_resource", "Returns an embedded resource.",
                           [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
                             return Content(Json::array({EmbeddedResource(
                                 "test://embedded-resource", "text/plain",
                                 "This is an embedded resource content.")}));
                           }));
  tools.push_back(MakeTool("test_multiple_content_types", "Returns text, an image and a resource.",
                           [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
                             return Content(Json::array(
                                 {Text("Multiple content types test:"), Image(),
                                  EmbeddedResource("test://mixed-content-resource", "application/json",
                                                   R"({"test":"data","value":123})")}));
                           }));
  tools.push_back(MakeTool("test_tool_with_logging", "Logs three messages while it runs.",
                           [](const Json&, RequestContext& request) -> absl::StatusOr<ToolResult> {
                             for (const char* m : {"Tool execution started", "Tool processing data",
                                                   "Tool execution completed"}) {
                               request.Log(mcp::LogLevel::kInfo, m);
                               request.call().SleepFor(absl::Milliseconds(50));
                             }
                             return ToolResult::Text("Tool with logging executed successfully");
                           },
                           /*streams=*/true));
  tools.push_back(MakeTool("test_error_handling", "Always fails.",
                           [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
                             ToolResult r = ToolResult::Text(
                                 "This tool intentionally returns an error for testing");
                             r.is_error = true;
                             return r;
                           }));
  tools.push_back(MakeTool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100.",
                           [](const Json&, RequestContext& request) -> absl::StatusOr<ToolResult> {
                             for (double p : {0.0, 50.0, 100.0}) {
                               request.Progress(p, 100.0);
                               request.call().SleepFor(absl::Milliseconds(50));
                             }
                             return ToolResult::Text("Tool with progress executed successfully");
                           },
                           /*streams=*/true));
  tools.push_back(MakeTool(
      "test_sampling", "Asks the client's model to answer a prompt.",
      [](const Json& args, RequestContext& request) -> absl::StatusOr<ToolResult> {
        Json params{{"messages", Json::array({UserMessage(Text(args.value("prompt", "")))})},
                    {"maxTokens", 100}};
        auto answer = request.RequestClient("sampling/createMessage", std::move(params));
        if (!answer.ok()) return ToolResult::Error(answer.status());
        Json content = answer->value("content", Json::object());
        return ToolResult::Text(absl::StrCat("LLM response: ", content.value("text", "")));
      },
      /*streams=*/true, StringArgSchema("prompt")));
  tools.push_back(MakeTool(
      "test_elicitation", "Asks the user for a username and an email address.",
      [](const Json& args, RequestContext& request) -> absl::StatusOr<ToolResult> {
        Json schema{{"type", "object"},
                    {"properties",
                     {{"username", {{"type", "string"}, {"description", "User's response"}}},
                      {"email", {{"type", "string"}, {"description", "User's email address"}}}}},
                    {"required", Json::array({"username", "email"})}};
        return Elicit(request, Json{{"message", args.value("message", "")},
                                    {"requestedSchema", std::move(schema)}});
      },
      /*streams=*/true, StringArgSchema("message")));
  tools.push_back(MakeTool(
      "test_elicitation_sep1034_defaults", "Elicitation with default values (SEP-1034).",
      [](const Json&, RequestContext& request) -> absl::StatusOr<ToolResult> {
        Json properties{
            {"name", {{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
            {"age", {{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
            {"score", {{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
            {"status",
             {{"type", "string"},
              {"description", "User status"},
              {"enum", Json::array({"active", "inactive", "pending"})},
              {"default", "active"}}},
            {"verified", {{"type", "boolean"}, {"description", "Verification status"}, {"default", true}}}};
        return Elicit(request, Json{{"message", "Please review your information"},
                                    {"requestedSchema", {{"type", "object"}, {"properties", properties}}}});
      },
      /*streams=*/true));
  tools.push_back(MakeTool(
      "test_elicitation_sep1330_enums", "Elicitation with every enum form (SEP-1330).",
      [](const Json&, RequestContext& request) -> absl::StatusOr<ToolResult> {
        auto titled = [](const char* prefix, const char* a, const char* b, const char* c) {
          return Json::array({Json{{"const", absl::StrCat(prefix, "1")}, {"title", a}},
                              Json{{"const", absl::StrCat(prefix, "2")}, {"title", b}},
                              Json{{"const", absl::StrCat(prefix, "3")}, {"title", c}}});
        };
        Json options = Json::array({"option1", "option2", "option3"});
        Json properties{
            {"untitledSingle", {{"type", "string"}, {"enum", options}}},
            {"titledSingle",
             {{"type", "string"}, {"oneOf", titled("value", "First Option", "Second Option", "Third Option")}}},
            {"legacyEnum",
             {{"type", "string"},
              {"enum", Json::array({"opt1", "opt2", "opt3"})},
              {"enumNames", Json::array({"Option One", "Option Two", "Option Three"})}}},
            {"untitledMulti", {{"type", "array"}, {"items", {{"type", "string"}, {"enum", options}}}}},
            {"titledMulti",
             {{"type", "array"},
              {"items", {{"anyOf", titled("value", "First Choice", "Second Choice", "Third Choice")}}}}}};
        return Elicit(request, Json{{"message", "Please choose"},
                                    {"requestedSchema", {{"type", "object"}, {"properties", properties}}}});
      },
      /*streams=*/true));
  tools.push_back(MakeTool(
      "json_schema_2020_12_tool", "Takes a JSON Schema 2020-12 input with $defs.",
      [](const Json& args, RequestContext&) -> absl::StatusOr<ToolResult> {
        return ToolResult::Text(absl::StrCat("Received: ", mcp::DumpJson(args)));
      },
      false,
      Json{{"$schema", "https://json-schema.org/draft/2020-12/schema"},
           {"type", "object"},
           {"$defs",
            {{"address",
              {{"type", "object"},
               {"properties", {{"street", {{"type", "string"}}}, {"city", {{"type", "string"}}}}}}}}},
           {"properties", {{"name", {{"type", "string"}}}, {"address", {{"$ref", "#/$defs/address"}}}}},
           {"additionalProperties", false}}));
  tools.push_back(MakeTool(
      "test_reconnection", "Closes its SSE stream before answering (SEP-1699 polling).",
      [](const Json&, RequestContext& request) -> absl::StatusOr<ToolResult> {
        request.call().SleepFor(absl::Milliseconds(50));
        request.CloseStream();
        request.call().SleepFor(absl::Milliseconds(100));
        return ToolResult::Text("Reconnection test completed successfully");
      },
      /*streams=*/true));
  for (auto& tool : tools) {
    if (absl::Status s = server.AddTool(std::move(tool)); !s.ok()) return s;
  }

  auto text_resource = [](std::string uri, std::string mime, std::string text) {
    mcp::Resource r;
    r.uri = uri;
    r.name = uri;
    r.description = "Conformance fixture " + uri;
    r.mime_type = mime;
    r.read = [uri, mime, text](const std::string&, const std::map<std::string, std::string>&,
                               RequestContext&) -> absl::StatusOr<std::vector<mcp::ResourceContents>> {
      mcp::ResourceContents c;
      c.uri = uri;
      c.mime_type = mime;
      c.text = text;
      return std::vector<mcp::ResourceContents>{c};
    };
    return r;
  };
  for (mcp::Resource r :
       {text_resource("test://static-text", "text/plain",
                      "This is the content of the static text resource."),
        text_resource("test://watched-resource", "text/plain", "Watched resource content.")}) {
    if (absl::Status s = server.AddResource(std::move(r)); !s.ok()) return s;
  }
  mcp::Resource binary;
  binary.uri = "test://static-binary";
  binary.name = "static-binary";
  binary.description = "A PNG image";
  binary.mime_type = "image/png";
  binary.read = [](const std::string& uri, const std::map<std::string, std::string>&,
                   RequestContext&) -> absl::StatusOr<std::vector<mcp::ResourceContents>> {
    mcp::ResourceContents c;
    c.uri = uri;
    c.mime_type = "image/png";
    c.binary = true;
    absl::Base64Unescape(kPng, &c.blob);
    return std::vector<mcp::ResourceContents>{c};
  };
  if (absl::Status s = server.AddResource(std::move(binary)); !s.ok()) return s;
  mcp::ResourceTemplate data;
  data.uri_template = "test://template/{id}/data";
  data.name = "template-data";
  data.description = "JSON data for an id";
  data.mime_type = "application/json";
  data.read = [](const std::string& uri, const std::map<std::string, std::string>& vars,
                 RequestContext&) -> absl::StatusOr<std::vector<mcp::ResourceContents>> {
    std::string id = vars.at("id");
    mcp::ResourceContents c;
    c.uri = uri;
    c.mime_type = "application/json";
    c.text = mcp::DumpJson(Json{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}});
    return std::vector<mcp::ResourceContents>{c};
  };
  data.complete = [](absl::string_view, absl::string_view value,
                     const std::map<std::string, std::string>&) {
    std::vector<std::string> out;
    for (const char* id : {"123", "456", "789"}) {
      if (absl::string_view(id).substr(0, value.size()) == value) out.push_back(id);
    }
    return out;
  };
  if (absl::Status s = server.AddResourceTemplate(std::move(data)); !s.ok()) return s;

  mcp::Prompt simple;
  simple.name = "test_simple_prompt";
  simple.description = "A prompt without arguments.";
  simple.get = [](const std::map<std::string, std::string>&,
                  RequestContext&) -> absl::StatusOr<mcp::PromptResult> {
    return Messages(Json::array({UserMessage(Text("This is a simple prompt for testing."))}));
  };
  mcp::Prompt with_args;
  with_args.name = "test_prompt_with_arguments";
  with_args.description = "A prompt with two required arguments.";
  with_args.arguments = {{"arg1", "", "First test argument", true},
                         {"arg2", "", "Second test argument", true}};
  with_args.get = [](const std::map<std::string, std::string>& args,
                     RequestContext&) -> absl::StatusOr<mcp::PromptResult> {
    return Messages(Json::array({UserMessage(Text(absl::StrCat(
        "Prompt with arguments: arg1='", args.at("arg1"), "', arg2='", args.at("arg2"), "'")))}));
  };
  with_args.complete = [](absl::string_view argument, absl::string_view value,
                          const std::map<std::string, std::string>&) {
    std::vector<std::string> out;
    for (const char* candidate : {"test1", "test2", "testing", "other"}) {
      if (absl::string_view(candidate).substr(0, value.size()) == value) {
        out.push_back(absl::StrCat(candidate));
      }
    }
    (void)argument;
    return out;
  };
  mcp::Prompt embedded;
  embedded.name = "test_prompt_with_embedded_resource";
  embedded.description = "A prompt that embeds a resource.";
  embedded.arguments = {{"resourceUri", "", "URI of the resource to embed", true}};
  embedded.get = [](const std::map<std::string, std::string>& args,
                    RequestContext&) -> absl::StatusOr<mcp::PromptResult> {
    return Messages(Json::array(
        {UserMessage(EmbeddedResource(args.at("resourceUri"), "text/plain",
                                      "Embedded resource content for testing.")),
         UserMessage(Text("Please process the embedded resource above."))}));
  };
  mcp::Prompt image;
  image.name = "test_prompt_with_image";
  image.description = "A prompt with an image.";
  image.get = [](const std::map<std::string, std::string>&,
                 RequestContext&) -> absl::StatusOr<mcp::PromptResult> {
    return Messages(Json::array(
        {UserMessage(Image()), UserMessage(Text("Please analyze the image above."))}));
  };
  for (mcp::Prompt p : {simple, with_args, embedded, image}) {
    if (absl::Status s = server.AddPrompt(std::move(p)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace kei::testing
