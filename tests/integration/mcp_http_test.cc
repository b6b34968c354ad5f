// MCP's Streamable HTTP transport on a real kit server, spoken to with a plain
// HTTP/1.1 client: sessions (create, require, expire, delete), negotiation,
// notifications (202), SSE answers with progress, cancellation, pagination,
// auth, and every kind of bad input (malformed JSON-RPC, wrong Origin/Host,
// media types, protocol version, oversize bodies), after which the server
// still serves.
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/mcp/mcp_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/test_services.h"
#include "tests/support/raw_http_client.h"

namespace kei::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;

class McpHttpTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}, const std::function<void(Server&)>& customize = nullptr) {
    options.http_address = "127.0.0.1:0";
    auto started = StartTestServer(options, customize);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    port_ = server_.server->http_port();
  }
  Headers McpHeaders(const std::string& session = "") const {
    Headers h = {{"Content-Type", "application/json"},
                 {"Accept", "application/json, text/event-stream"}};
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    return h;
  }
  RawResponse Post(const json& body, const Headers& headers) {
    auto response = HttpCall(port_, "POST", "/mcp", headers, body.dump());
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : RawResponse{};
  }
  // A session that completed initialize and notifications/initialized.
  std::string Initialize(const std::string& version = "2025-11-25") {
    RawResponse r = Post({{"jsonrpc", "2.0"},
                          {"id", 1},
                          {"method", "initialize"},
                          {"params",
                           {{"protocolVersion", version},
                            {"capabilities", json::object()},
                            {"clientInfo", {{"name", "test"}, {"version", "1"}}}}}},
                         McpHeaders());
    EXPECT_EQ(r.status, 200) << r.body;
    std::string session = r.header("mcp-session-id");
    EXPECT_FALSE(session.empty());
    RawResponse ack = Post({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}},
                           McpHeaders(session));
    EXPECT_EQ(ack.status, 202);
    return session;
  }
  json Request(const std::string& session, const std::string& method, json params = json::object(),
               int id = 7) {
    RawResponse r = Post({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}},
                         McpHeaders(session));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  TestServer server_;
  int port_ = 0;
};

TEST_F(McpHttpTest, InitializeNegotiatesTheVersion) {
  Start();
  for (const auto& [asked, answered] :
       std::vector<std::pair<std::string, std::string>>{{"2025-11-25", "2025-11-25"},
                                                        {"2025-06-18", "2025-06-18"},
                                                        {"2025-03-26", "2025-03-26"},
                                                        {"1999-01-01", "2025-11-25"}}) {
    RawResponse r = Post({{"jsonrpc", "2.0"},
                          {"id", 1},
                          {"method", "initialize"},
                          {"params", {{"protocolVersion", asked}, {"capabilities", json::object()},
                                      {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}},
                         McpHeaders());
    ASSERT_EQ(r.status, 200) << r.body;
    json body = json::parse(r.body);
    EXPECT_EQ(body["result"]["protocolVersion"], answered);
    EXPECT_EQ(body["result"]["serverInfo"]["name"], "keid");
    EXPECT_TRUE(body["result"]["capabilities"].contains("tools"));
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
}

TEST_F(McpHttpTest, SessionsAreRequiredExpireAndEnd) {
  ServerOptions options;
  options.mcp.session_idle_timeout = absl::Milliseconds(300);
  Start(options);
  json ping = {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}};
  RawResponse missing = Post(ping, McpHeaders());
  EXPECT_EQ(missing.status, 400) << missing.body;
  EXPECT_EQ(json::parse(missing.body)["error"]["code"], -32000);
  RawResponse unknown = Post(ping, McpHeaders("not-a-session"));
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  std::string session = Initialize();
  EXPECT_EQ(Request(session, "ping")["result"], json::object());
  auto deleted = HttpCall(port_, "DELETE", "/mcp", McpHeaders(session), "");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(Post(ping, McpHeaders(session)).status, 404);

  std::string idle = Initialize();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(Post(ping, McpHeaders(idle)).status, 404) << "an idle session expires";
}

TEST_F(McpHttpTest, BadInputGetsClearErrorsAndTheServerKeepsServing) {
  ServerOptions options;
  options.max_message_bytes = 64 * 1024;
  Start(options);
  std::string session = Initialize();
  auto raw = [&](const std::string& body, Headers headers) {
    auto r = HttpCall(port_, "POST", "/mcp", headers, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RawResponse{};
  };
  auto error_code = [](const RawResponse& r) {
    json body = json::parse(r.body, nullptr, false);
    return body.is_object() && body.contains("error") ? body["error"].value("code", 0) : 0;
  };
  RawResponse malformed = raw("{\"jsonrpc\":\"2.0\",\"id\":1,", McpHeaders(session));
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(error_code(malformed), -32700);
  RawResponse not_object = raw("5", McpHeaders(session));
  EXPECT_EQ(not_object.status, 400);
  EXPECT_EQ(error_code(not_object), -32600);
  RawResponse batch = raw("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", McpHeaders(session));
  EXPECT_EQ(batch.status, 400);
  RawResponse bad_version = raw(R"({"jsonrpc":"1.0","id":1,"method":"ping"})", McpHeaders(session));
  EXPECT_EQ(error_code(bad_version), -32600);
  RawResponse bad_params = raw(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":5})", McpHeaders(session));
  EXPECT_EQ(error_code(bad_params), -32602);

  json unknown_method = Request(session, "no/such/method");
  EXPECT_EQ(unknown_method["error"]["code"], -32601);
  json missing_name = Request(session, "tools/call", {{"arguments", json::object()}});
  EXPECT_EQ(missing_name["error"]["code"], -32602);
  json bad_arguments = Request(session, "tools/call", {{"name", "act"}, {"arguments", {{"action", 5}}}});
  EXPECT_EQ(bad_arguments["error"]["code"], -32602);
  EXPECT_TRUE(absl::StrContains(bad_arguments["error"]["message"].get<std::string>(), "action"))
      << bad_arguments;

  Headers evil_origin = McpHeaders(session);
  evil_origin.emplace_back("Origin", "http://evil.example.com");
  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", evil_origin).status, 403);
  Headers local_origin = McpHeaders(session);
  local_origin.emplace_back("Origin", "http://localhost:3000");
  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", local_origin).status, 200);
  Headers evil_host = McpHeaders(session);
  evil_host.emplace_back("Host", "evil.example.com");
  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", evil_host).status, 403);

  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})",
                {{"Content-Type", "application/json"}, {"Accept", "text/html"},
                 {"Mcp-Session-Id", session}})
                .status,
            406);
  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})",
                {{"Content-Type", "text/plain"}, {"Mcp-Session-Id", session}})
                .status,
            415);
  Headers old_version = McpHeaders(session);
  old_version.emplace_back("MCP-Protocol-Version", "2025-03-26");  // supported: accepted
  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", old_version).status, 200);
  Headers bad_header = McpHeaders(session);
  bad_header.emplace_back("MCP-Protocol-Version", "1999-01-01");
  EXPECT_EQ(raw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", bad_header).status, 400);
  auto put = HttpCall(port_, "PUT", "/mcp", McpHeaders(session), "{}");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 405);
  std::string huge = absl::StrCat(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":")",
                                  std::string(100 * 1024, 'a'), "\"}}");
  EXPECT_EQ(raw(huge, McpHeaders(session)).status, 413);

  // Still serving, same session.
  json echo = Request(session, "tools/call",
                      {{"name", "act"}, {"arguments", {{"action", "echo"}, {"params", {{"text", "ok"}}}}}});
  EXPECT_EQ(echo["result"]["structuredContent"]["output"], "ok") << echo;
}

TEST_F(McpHttpTest, BatchesOnlyFor20250326Sessions) {
  Start();
  std::string old_session = Initialize("2025-03-26");
  auto r = HttpCall(port_, "POST", "/mcp", McpHeaders(old_session),
                    R"([{"jsonrpc":"2.0","id":1,"method":"ping"},
                        {"jsonrpc":"2.0","method":"notifications/roots/list_changed"},
                        {"jsonrpc":"2.0","id":2,"method":"tools/list"},
                        {"jsonrpc":"2.0","id":3,"method":"initialize","params":{}},
                        {"nonsense":true}])");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  json responses = json::parse(r->body);
  ASSERT_EQ(responses.size(), 4u) << responses;
  EXPECT_EQ(responses[0]["id"], 1);
  EXPECT_TRUE(responses[1]["result"].contains("tools"));
  EXPECT_EQ(responses[2]["error"]["code"], -32600);  // initialize in a batch
  EXPECT_EQ(responses[3]["error"]["code"], -32600);  // not JSON-RPC
  auto only_notifications = HttpCall(port_, "POST", "/mcp", McpHeaders(old_session),
                                     R"([{"jsonrpc":"2.0","method":"notifications/initialized"}])");
  ASSERT_TRUE(only_notifications.ok());
  EXPECT_EQ(only_notifications->status, 202);
  std::string new_session = Initialize("2025-06-18");
  auto refused = HttpCall(port_, "POST", "/mcp", McpHeaders(new_session),
                          R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 400);
}

TEST_F(McpHttpTest, ToolListPagesFollowCursors) {
  ServerOptions options;
  options.mcp.page_size = 2;
  Start(options);
  std::string session = Initialize();
  std::vector<std::string> names;
  json params = json::object();
  for (int page = 0; page < 20; ++page) {
    json r = Request(session, "tools/list", params);
    ASSERT_TRUE(r.contains("result")) << r;
    EXPECT_LE(r["result"]["tools"].size(), 2u);
    for (const auto& tool : r["result"]["tools"]) names.push_back(tool["name"]);
    if (!r["result"].contains("nextCursor")) break;
    params = {{"cursor", r["result"]["nextCursor"]}};
  }
  EXPECT_EQ(names.size(), server_.server->mcp()->tools().size());
  EXPECT_GE(names.size(), 5u);  // the agent's four methods, the echo service's, topics
  EXPECT_EQ(Request(session, "tools/list", {{"cursor", "garbage!"}})["error"]["code"], -32602);
}

TEST_F(McpHttpTest, ProgressStreamsAsServerSentEvents) {
  Start({}, [](Server& s) {
    mcp::Tool tool;
    tool.name = "count";
    tool.description = "Counts to three with progress.";
    tool.streams_notifications = true;
    tool.handler = [](const mcp::Json&, mcp::RequestContext& request)
        -> absl::StatusOr<mcp::ToolResult> {
      for (int i = 1; i <= 3; ++i) request.Progress(i, 3, absl::StrCat("step ", i));
      request.Log(mcp::LogLevel::kInfo, "counted");
      return mcp::ToolResult::Text("done");
    };
    ASSERT_TRUE(s.mcp()->AddTool(tool).ok());
  });
  std::string session = Initialize();
  RawResponse r = Post({{"jsonrpc", "2.0"},
                        {"id", 9},
                        {"method", "tools/call"},
                        {"params", {{"name", "count"}, {"_meta", {{"progressToken", "p1"}}}}}},
                       McpHeaders(session));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_TRUE(absl::StrContains(r.body, "retry: ")) << r.body;  // priming event
  EXPECT_TRUE(absl::StrContains(r.body, R"("progressToken":"p1","progress":3.0,"total":3.0)") ||
              absl::StrContains(r.body, R"("progressToken":"p1","progress":3,"total":3)"))
      << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, R"("method":"notifications/message")")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, R"("id":9,"result":{"content":[{"type":"text","text":"done"}]})"))
      << r.body;
  // Without Accept: text/event-stream the same call answers with JSON.
  RawResponse plain = Post({{"jsonrpc", "2.0"}, {"id", 10}, {"method", "tools/call"},
                            {"params", {{"name", "count"}, {"_meta", {{"progressToken", "p2"}}}}}},
                           {{"Content-Type", "application/json"}, {"Accept", "application/json"},
                            {"Mcp-Session-Id", session}});
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(json::parse(plain.body)["result"]["content"][0]["text"], "done");
}

TEST_F(McpHttpTest, NotificationsCancelledStopsARunningCall) {
  Start();
  std::string session = Initialize();
  absl::Time start = absl::Now();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    Post({{"jsonrpc", "2.0"},
          {"method", "notifications/cancelled"},
          {"params", {{"requestId", 42}, {"reason", "user gave up"}}}},
         McpHeaders(session));
  });
  json r = Request(session, "tools/call",
                   {{"name", "act"}, {"arguments", {{"action", "sleep"}, {"params", {{"ms", 20000}}}}}},
                   42);
  canceller.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(r["result"].value("isError", false)) << r;
  EXPECT_TRUE(absl::StrContains(r.dump(), "CANCELLED")) << r;
}

TEST_F(McpHttpTest, AuthUsesTheKitsInterceptor) {
  ServerOptions options;
  options.auth.bearer_tokens["mcp-secret"] = "tester";
  Start(options);
  json init = {{"jsonrpc", "2.0"},
               {"id", 1},
               {"method", "initialize"},
               {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()},
                           {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}};
  RawResponse denied = Post(init, McpHeaders());
  EXPECT_EQ(denied.status, 401) << denied.body;
  EXPECT_EQ(denied.header("www-authenticate"), "Bearer");
  Headers with_token = McpHeaders();
  with_token.emplace_back("Authorization", "Bearer mcp-secret");
  RawResponse allowed = Post(init, with_token);
  EXPECT_EQ(allowed.status, 200) << allowed.body;
}

TEST_F(McpHttpTest, LegacyRestToolApi) {
  Start();
  auto get = [&](const std::string& path) {
    auto r = HttpCall(port_, "GET", path);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RawResponse{};
  };
  EXPECT_EQ(json::parse(get("/api/v1/mcp/health").body)["status"], "ok");
  json info = json::parse(get("/api/v1/mcp/info").body);
  EXPECT_EQ(info["serverInfo"]["name"], "keid");
  EXPECT_GE(info["tools"].get<int>(), 4);
  json tools = json::parse(get("/api/v1/mcp/tools").body);
  bool has_act = false;
  for (const auto& t : tools["tools"]) has_act = has_act || t["name"] == "act";
  EXPECT_TRUE(has_act) << tools;
  json schema = json::parse(get("/api/v1/mcp/tools/act/schema").body);
  EXPECT_EQ(schema["inputSchema"]["type"], "object");
  EXPECT_EQ(get("/api/v1/mcp/tools/nope/schema").status, 404);

  auto post = [&](const std::string& path, const std::string& body) {
    auto r = HttpCall(port_, "POST", path, {{"Content-Type", "application/json"}}, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RawResponse{};
  };
  RawResponse ran = post("/api/v1/mcp/tools/act/execute",
                         R"({"arguments":{"action":"uppercase","params":{"text":"abc"}}})");
  ASSERT_EQ(ran.status, 200) << ran.body;
  EXPECT_EQ(json::parse(ran.body)["structuredContent"]["output"], "ABC");
  RawResponse bare = post("/api/v1/mcp/tools/act/execute", R"({"action":"echo","params":{"text":"x"}})");
  EXPECT_EQ(json::parse(bare.body)["structuredContent"]["output"], "x") << bare.body;
  RawResponse failing = post("/api/v1/mcp/tools/act/execute", R"({"arguments":{"action":"nope"}})");
  EXPECT_EQ(failing.status, 200);
  EXPECT_TRUE(json::parse(failing.body)["isError"].get<bool>());
  EXPECT_EQ(post("/api/v1/mcp/tools/act/execute", R"({"arguments":{"action":7}})").status, 400);
  EXPECT_EQ(post("/api/v1/mcp/tools/act/execute", "{oops").status, 400);
  EXPECT_EQ(post("/api/v1/mcp/tools/nope/execute", "{}").status, 404);
}

}  // namespace
}  // namespace kei::testing
