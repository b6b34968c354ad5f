// The MCP engine without a transport: JSON-RPC classification, URI templates,
// the resumable event stream, and the engine's lifecycle rules.
#include "cc/mcp/event_stream.h"
#include "cc/mcp/jsonrpc.h"
#include "cc/mcp/mcp_server.h"
#include "cc/mcp/mcp_types.h"
#include "cc/status/jsonrpc_mapping.h"
#include "gtest/gtest.h"

namespace kei::mcp {
namespace {

JsonRpcMessage Parse(const char* text) {
  JsonRpcFailure failure;
  auto parsed = ParseJsonRpc(Json::parse(text), &failure);
  EXPECT_TRUE(parsed.ok()) << text << ": " << failure.message;
  return parsed.ok() ? *parsed : JsonRpcMessage{};
}

int FailureCode(const char* text) {
  JsonRpcFailure failure;
  auto parsed = ParseJsonRpc(Json::parse(text), &failure);
  EXPECT_FALSE(parsed.ok()) << text;
  return failure.code;
}

TEST(JsonRpcTest, ClassifiesMessages) {
  EXPECT_TRUE(Parse(R"({"jsonrpc":"2.0","id":1,"method":"ping"})").is_request());
  EXPECT_TRUE(Parse(R"({"jsonrpc":"2.0","id":"a","method":"ping","params":{}})").is_request());
  EXPECT_TRUE(Parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").is_notification());
  EXPECT_EQ(Parse(R"({"jsonrpc":"2.0","id":1,"result":{}})").kind, JsonRpcMessage::Kind::kResult);
  EXPECT_EQ(Parse(R"({"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}})").kind,
            JsonRpcMessage::Kind::kError);
}

TEST(JsonRpcTest, RejectsMalformedMessages) {
  EXPECT_EQ(FailureCode(R"([1])"), kJsonRpcInvalidRequest);
  EXPECT_EQ(FailureCode(R"({"id":1,"method":"ping"})"), kJsonRpcInvalidRequest);
  EXPECT_EQ(FailureCode(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})"), kJsonRpcInvalidRequest);
  EXPECT_EQ(FailureCode(R"({"jsonrpc":"2.0","id":1,"method":""})"), kJsonRpcInvalidRequest);
  EXPECT_EQ(FailureCode(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})"),
            kJsonRpcInvalidParams);
  EXPECT_EQ(FailureCode(R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}})"),
            kJsonRpcInvalidRequest);
  EXPECT_FALSE(ParseJsonText("{\"a\":").ok());
}

TEST(JsonRpcTest, StatusRoundTripsThroughTheMappingTable) {
  Json error = JsonRpcErrorFromStatus(1, absl::NotFoundError("gone"))["error"];
  absl::Status back = StatusFromJsonRpcError(error);
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(back.message(), "gone");
  EXPECT_EQ(StatusFromJsonRpcError(Json{{"code", -32601}, {"message", "m"}}).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(UriTemplateTest, MatchesSimpleAndReservedExpansion) {
  auto vars = MatchUriTemplate("test://template/{id}/data", "test://template/123/data");
  ASSERT_TRUE(vars);
  EXPECT_EQ(vars->at("id"), "123");
  EXPECT_FALSE(MatchUriTemplate("test://template/{id}/data", "test://template/1/2/data"));
  EXPECT_FALSE(MatchUriTemplate("test://template/{id}/data", "test://template//data"));
  EXPECT_FALSE(MatchUriTemplate("kei://plans/{id}", "kei://plans/a/extra"));
  auto path = MatchUriTemplate("file:///{+path}", "file:///etc/hosts");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->at("path"), "etc/hosts");
}

TEST(EventStreamTest, ResumesFromAnEventIdAndStaysBounded) {
  EventStream stream("p1", 3);
  std::string first = stream.Append("a");
  stream.Append("b");
  std::string id;
  uint64_t from = 0;
  ASSERT_TRUE(EventStream::ParseEventId(first, &id, &from));
  EXPECT_EQ(id, "p1");
  CancellationToken never;
  EventStream::Batch rest = stream.Read(from, absl::ZeroDuration(), never);
  ASSERT_EQ(rest.events.size(), 1u);
  EXPECT_EQ(rest.events[0].second, "b");
  for (const char* e : {"c", "d", "e"}) stream.Append(e);
  EventStream::Batch all = stream.Read(0, absl::ZeroDuration(), never);
  ASSERT_EQ(all.events.size(), 3u) << "the oldest events were dropped";
  EXPECT_EQ(all.events.front().second, "c");
  stream.Close();
  EXPECT_TRUE(stream.Read(all.next, absl::Seconds(5), never).closed);
  EXPECT_FALSE(EventStream::ParseEventId("garbage", &id, &from));
}

TEST(EventStreamTest, StaysWithinItsByteBudget) {
  EventStream stream("g", 1000, 100);
  for (int i = 0; i < 50; ++i) stream.Append(std::string(30, 'x'));
  CancellationToken never;
  EventStream::Batch kept = stream.Read(0, absl::ZeroDuration(), never);
  EXPECT_EQ(kept.events.size(), 3u) << "3 x 30 bytes fit in 100";
  EXPECT_EQ(kept.next, 50u);
  stream.Append(std::string(500, 'y'));  // larger than the budget: kept alone
  EXPECT_EQ(stream.Read(0, absl::ZeroDuration(), never).events.size(), 1u);
}

TEST(McpServerTest, RequiresInitializeAndValidatesRegistrations) {
  McpServer server;
  EXPECT_FALSE(server.AddTool(Tool{.name = "bad name"}).ok());
  Tool tool;
  tool.name = "ok.tool-1";
  tool.description = "d";
  tool.handler = [](const Json&, RequestContext&) -> absl::StatusOr<ToolResult> {
    return ToolResult::Text("x");
  };
  EXPECT_TRUE(server.AddTool(tool).ok());
  EXPECT_EQ(server.AddTool(tool).code(), absl::StatusCode::kAlreadyExists);

  auto session = server.CreateSession();
  kei::Context call;
  auto before = server.Handle(*session, Parse(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})"),
                              call, nullptr);
  ASSERT_TRUE(before);
  EXPECT_EQ((*before)["error"]["code"], kJsonRpcInvalidRequest);
  auto ping = server.Handle(*session, Parse(R"({"jsonrpc":"2.0","id":2,"method":"ping"})"), call,
                            nullptr);
  EXPECT_EQ((*ping)["result"], Json::object());
  auto init = server.Handle(
      *session,
      Parse(R"({"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})"),
      call, nullptr);
  EXPECT_EQ((*init)["result"]["protocolVersion"], "2025-06-18");
  auto list = server.Handle(*session, Parse(R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})"),
                            call, nullptr);
  EXPECT_EQ((*list)["result"]["tools"][0]["name"], "ok.tool-1");
  EXPECT_FALSE(server.Handle(*session, Parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"),
                             call, nullptr));
  EXPECT_TRUE(session->initialized());
}

}  // namespace
}  // namespace kei::mcp
