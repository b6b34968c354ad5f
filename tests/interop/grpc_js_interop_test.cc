// Interop: a Node.js client built on @grpc/grpc-js and @grpc/proto-loader,
// loading this repository's .proto files, calls a real kei::Server (unary and
// server streaming): proof that stubs generated in another language work.
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

TEST(GrpcJsInteropTest, NodeClientCallsTheAgentService) {
  std::string script = FindTestFile("tests/interop/grpc_js_client.mjs", "KEI_GRPC_JS_CLIENT");
  std::string proto_root =
      FindTestFile("proto/kei/agent/v1/agent.proto", "KEI_AGENT_PROTO");
  ASSERT_FALSE(script.empty());
  ASSERT_FALSE(proto_root.empty());
  proto_root = proto_root.substr(0, proto_root.size() - std::string("/kei/agent/v1/agent.proto").size());

  auto server = StartTestServer();
  ASSERT_TRUE(server.ok()) << server.status();
  auto result = RunCommand({"node", script, server->server->grpc_target(), proto_root},
                           absl::Seconds(60));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->output;
  EXPECT_FALSE(absl::StrContains(result->output, "not ok")) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "ok - watch")) << result->output;
}

}  // namespace
}  // namespace kei::testing
