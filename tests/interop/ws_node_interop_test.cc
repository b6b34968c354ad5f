// Interop: a Node.js client built on the `ws` package (pinned by
// package-lock.json) drives the documented KEI stream protocol against a real
// server's WebSocket endpoint: every call kind, credit, topics, bad input,
// auth from the handshake.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

class WsNodeInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = FindTestFile("tests/interop/ws_client.mjs", "KEI_WS_NODE_CLIENT");
    ASSERT_FALSE(script_.empty());
  }
  CommandResult RunClient(const TestServer& server, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "node", script_, absl::StrCat("ws://", server.server->http_target(), "/api/v1/stream")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = RunCommand(argv, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }
  std::string script_;
};

TEST_F(WsNodeInteropTest, EveryCallKindTopicsAndBadInput) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  CommandResult result = RunClient(*server);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(absl::StrContains(result.output, "not ok")) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "ok topic fan-out")) << result.output;
}

TEST_F(WsNodeInteropTest, HandshakeAuth) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.auth.bearer_tokens["node-token"] = "node";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  CommandResult denied = RunClient(*server, {"--expect-unauthorized"});
  EXPECT_EQ(denied.exit_code, 0) << denied.output;
  CommandResult allowed = RunClient(*server, {"--token", "node-token"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

}  // namespace
}  // namespace kei::testing
