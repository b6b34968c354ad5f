// Interop: curl, the HTTP client everyone has, calls keid's REST routes.
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/subprocess.h"

namespace kei::testing {
namespace {

TEST(CurlRestInteropTest, PlanAndEventsOverRest) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string base = absl::StrCat("http://", server->server->http_target());

  auto plan = RunCommand({"curl", "-sS", "-X", "POST", base + "/api/v1/rpc/plan", "-H",
                          "Content-Type: application/json", "-d",
                          R"({"objective":"echo from curl"})"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->exit_code, 0) << plan->output;
  auto doc = nlohmann::json::parse(plan->output, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << plan->output;
  EXPECT_EQ(doc["steps"][0]["action"], "echo");

  auto status = RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                            base + "/api/v1/rpc/act", "-H", "Content-Type: application/json",
                            "-d", R"({"action":"teleport"})"});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->output, "400");

  auto events = RunCommand({"curl", "-sS", "-N", "-H", "Accept: text/event-stream",
                            base + "/api/v1/events?fromSequence=1&maxEvents=1"});
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(absl::StartsWith(events->output, "data: {")) << events->output;
  EXPECT_TRUE(absl::StrContains(events->output, "EVENT_KIND_PLAN_CREATED")) << events->output;
}

}  // namespace
}  // namespace kei::testing
