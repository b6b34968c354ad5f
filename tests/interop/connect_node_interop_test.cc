// Interop: the official Connect client for Node.js (@connectrpc/connect-node,
// with protobuf-es loading this build's descriptor set) calls keid's HTTP
// listener with the JSON and the binary codec, unary and server streaming,
// and sees the right error codes, deadlines and auth failures.
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

class ConnectNodeInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = FindTestFile("tests/interop/connect_node_client.mjs", "KEI_CONNECT_NODE_CLIENT");
    descriptors_ = FindTestFile("proto/agent_descriptor_set.pb", "KEI_AGENT_DESCRIPTOR_SET");
    ASSERT_FALSE(script_.empty());
    ASSERT_FALSE(descriptors_.empty());
  }
  CommandResult RunClient(const TestServer& server, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"node", script_,
                                     absl::StrCat("http://", server.server->http_target()),
                                     descriptors_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = RunCommand(argv, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }
  std::string script_, descriptors_;
};

TEST_F(ConnectNodeInteropTest, JsonAndBinaryCodecsUnaryAndStreaming) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  CommandResult result = RunClient(*server);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(absl::StrContains(result.output, "not ok")) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "watch")) << result.output;
}

TEST_F(ConnectNodeInteropTest, BearerTokenAndUnauthenticated) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.auth.bearer_tokens["node-token"] = "node";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  CommandResult denied = RunClient(*server, {"--expect-unauthenticated"});
  EXPECT_EQ(denied.exit_code, 0) << denied.output;
  CommandResult allowed = RunClient(*server, {"--token", "node-token"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

}  // namespace
}  // namespace kei::testing
