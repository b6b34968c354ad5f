// Interop: the official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned by package-lock.json) runs every server scenario for spec 2025-11-25
// against a kit server's Streamable HTTP endpoint: the proto-bridged tools
// plus the fixtures its scenarios call by name. Scenarios not passing yet are
// listed, with reasons, in mcp/conformance_expected_failures.yaml; the suite
// itself fails the run on any other failure and on a listed scenario that
// passes.
#include <climits>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/interop/mcp/conformance_fixtures.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

TEST(McpConformanceTest, ServerScenarios) {
  std::string dir = InteropDir();
  ASSERT_FALSE(dir.empty());
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(options, [](Server& s) {
    ASSERT_TRUE(AddConformanceFixtures(*s.mcp()).ok());
  });
  ASSERT_TRUE(server.ok()) << server.status();
  std::string out_dir = absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp",
                                     "/mcp-conformance-", ::getpid());
  auto result = RunCommand(
      {"node", "--import", dir + "/mcp/loopback-only.mjs", "--import", dir + "/mcp/shim-register.mjs",
       dir + "/node_modules/@modelcontextprotocol/conformance/dist/index.js", "server", "--url",
       absl::StrCat("http://", server->server->http_target(), "/mcp"), "--suite", "all",
       "--expected-failures", dir + "/mcp/conformance_expected_failures.yaml", "-o", out_dir},
      absl::Minutes(5));
  ASSERT_TRUE(result.ok()) << result.status();
  // The suite's own summary, for the log.
  size_t summary = result->output.find("=== SUMMARY ===");
  std::cout << (summary == std::string::npos ? result->output : result->output.substr(summary))
            << "\n";
  EXPECT_EQ(result->exit_code, 0) << result->output;
}

}  // namespace
}  // namespace kei::testing
