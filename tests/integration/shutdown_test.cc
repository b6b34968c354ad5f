// Graceful shutdown: calls in flight finish, new calls are refused, and
// streams still open when the grace period ends are cancelled so shutdown
// never hangs.
#include <thread>

#include "clients/kei_rpc_client.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"

namespace kei::testing {
namespace {

TEST(ShutdownTest, InFlightCallsFinishAndNewOnesAreRefused) {
  auto server = StartTestServer();
  ASSERT_TRUE(server.ok());
  ClientConfig config;
  config.retry = RetryPolicy::None();
  auto client = *KEIRPCClient::Connect(server->url(), config);

  absl::Status slow_status;
  std::thread slow([&] {
    test::v1::EchoRequest request;
    request.set_text("slow");
    request.set_delay_ms(400);
    test::v1::EchoResponse response;
    slow_status = client->Call("kei.test.v1.EchoService/Echo", request, &response);
  });
  while (!server->echo->handler_started.load()) absl::SleepFor(absl::Milliseconds(2));
  absl::Time start = absl::Now();
  server->server->Shutdown(absl::Seconds(5));
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));

  agent::v1::PlanRequest plan;
  plan.set_objective("echo late");
  EXPECT_EQ(client->Plan(plan).status().code(), absl::StatusCode::kUnavailable);
}

TEST(ShutdownTest, StreamsStillOpenAfterTheGracePeriodAreCancelled) {
  auto server = StartTestServer();
  ASSERT_TRUE(server.ok());
  auto client = *KEIRPCClient::Connect(server->url());
  auto stream = client->transport().OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.agent.v1.AgentService/Watch"), {});
  ASSERT_TRUE(stream.ok());
  (*stream)->Write(agent::v1::WatchRequest());  // live events only: waits forever
  (*stream)->CloseSend();
  absl::SleepFor(absl::Milliseconds(100));

  absl::Time start = absl::Now();
  server->server->Shutdown(absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  agent::v1::AgentEvent event;
  EXPECT_FALSE((*stream)->Read(&event));
  EXPECT_FALSE((*stream)->Finish().ok());
}

}  // namespace
}  // namespace kei::testing
