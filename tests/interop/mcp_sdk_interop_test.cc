// Interop: the official MCP TypeScript SDK Client (@modelcontextprotocol/sdk,
// pinned by package-lock.json) against the real keid binary, over Streamable
// HTTP (/mcp) and over stdio (keid --mcp-stdio): initialize, tools with their
// JSON Schemas, a proto-bridged call and a failing one, resources (direct and
// templated), prompts, logging, and resource update notifications.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

class McpSdkInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keid_ = FindTestFile("tools/keid/keid", "KEI_KEID_PATH");
    script_ = FindTestFile("tests/interop/mcp_sdk_client.mjs", "KEI_MCP_SDK_CLIENT");
    ASSERT_FALSE(keid_.empty()) << "keid binary not found";
    ASSERT_FALSE(script_.empty());
  }

  // Starts keid on loopback and returns its /mcp URL.
  std::string StartKeid(std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {keid_, "--grpc-address", "127.0.0.1:0", "--http-address",
                                     "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto process = StartProcess(argv);
    EXPECT_TRUE(process.ok()) << process.status();
    keid_process_ = std::move(*process);
    EXPECT_TRUE(keid_process_->WaitForOutput("listening http://", absl::Seconds(10)))
        << keid_process_->Output();
    std::string output = keid_process_->Output();
    auto start = output.find("listening http://") + 10;
    return absl::StrCat(output.substr(start, output.find('\n', start) - start), "/mcp");
  }

  CommandResult RunClient(std::vector<std::string> args) {
    args.insert(args.begin(), {"node", script_});
    auto result = RunCommand(args, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  std::string keid_, script_;
  std::unique_ptr<Process> keid_process_;
};

TEST_F(McpSdkInteropTest, StreamableHttp) {
  CommandResult result = RunClient({"--http", StartKeid()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(absl::StrContains(result.output, "not ok")) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "ok resources/subscribe delivers updates"))
      << result.output;
}

TEST_F(McpSdkInteropTest, StreamableHttpWithAuth) {
  std::string url = StartKeid({"--auth-token", "mcp-token=sdk"});
  CommandResult denied = RunClient({"--http", url});
  EXPECT_NE(denied.exit_code, 0) << denied.output;
  EXPECT_TRUE(absl::StrContains(denied.output, "UNAUTHENTICATED")) << denied.output;
  CommandResult allowed = RunClient({"--http", url, "--token", "mcp-token"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

TEST_F(McpSdkInteropTest, Stdio) {
  CommandResult result = RunClient({"--stdio", keid_});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(absl::StrContains(result.output, "not ok")) << result.output;
  EXPECT_TRUE(absl::StrContains(result.output, "ok tools/call act echo (structured)"))
      << result.output;
}

}  // namespace
}  // namespace kei::testing
