// The shared retry policy against real servers: retries on UNAVAILABLE for
// idempotent methods, never on INVALID_ARGUMENT, never for a non-idempotent
// call that reached the server, always for calls that never reached one, and
// RESOURCE_EXHAUSTED only when the server pushes back.
#include <thread>

#include "clients/kei_rpc_client.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"

namespace kei::testing {
namespace {

RetryPolicy FastRetries(int attempts) {
  RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.initial_backoff = absl::Milliseconds(5);
  policy.max_backoff = absl::Milliseconds(20);
  return policy;
}

std::unique_ptr<KEIRPCClient> Connect(const std::string& url, int attempts) {
  ClientConfig config;
  config.retry = FastRetries(attempts);
  return *KEIRPCClient::Connect(url, config);
}

TEST(RetryTest, IdempotentCallIsRetriedUntilTheServerRecovers) {
  auto failing = std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Plan", 2);
  auto server = StartTestServer({}, [&](Server& s) { s.AddInterceptor(failing); });
  ASSERT_TRUE(server.ok());
  auto client = Connect(server->url(), 4);
  agent::v1::PlanRequest request;
  request.set_objective("echo retry");
  CallStats stats;
  CallOptions options;
  options.stats = &stats;
  auto plan = client->Plan(request, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(failing->attempts.load(), 3);
  EXPECT_EQ(stats.attempts, 3);
  EXPECT_EQ(stats.attempt_statuses[0].code(), absl::StatusCode::kUnavailable);
}

TEST(RetryTest, GivesUpAfterMaxAttempts) {
  auto failing = std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Plan", 100);
  auto server = StartTestServer({}, [&](Server& s) { s.AddInterceptor(failing); });
  ASSERT_TRUE(server.ok());
  agent::v1::PlanRequest request;
  request.set_objective("echo retry");
  auto plan = Connect(server->url(), 3)->Plan(request);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failing->attempts.load(), 3);
}

TEST(RetryTest, InvalidArgumentIsNeverRetried) {
  auto failing = std::make_shared<FailFirstInterceptor>(
      "kei.agent.v1.AgentService/Plan", 1, absl::StatusCode::kInvalidArgument);
  auto server = StartTestServer({}, [&](Server& s) { s.AddInterceptor(failing); });
  ASSERT_TRUE(server.ok());
  agent::v1::PlanRequest request;
  request.set_objective("echo retry");
  auto plan = Connect(server->url(), 5)->Plan(request);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(failing->attempts.load(), 1);
}

TEST(RetryTest, NonIdempotentCallThatReachedTheServerIsNotRetried) {
  auto failing = std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Act", 1);
  auto server = StartTestServer({}, [&](Server& s) { s.AddInterceptor(failing); });
  ASSERT_TRUE(server.ok());
  auto client = Connect(server->url(), 5);
  agent::v1::ActRequest act;
  act.set_action("echo");
  (*act.mutable_params()->mutable_fields())["text"].set_string_value("once");
  CallStats stats;
  CallOptions options;
  options.stats = &stats;
  auto result = client->Act(act, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failing->attempts.load(), 1);
  EXPECT_EQ(stats.attempts, 1);
  // Marking the call idempotent for this call makes it safe to retry.
  options.idempotent = true;
  EXPECT_TRUE(client->Act(act, options).ok());
}

TEST(RetryTest, CallThatNeverReachedAServerIsRetriedEvenIfNotIdempotent) {
  // Reserve a port, then close it: connections are refused.
  int port = 0;
  {
    auto probe = StartTestServer();
    ASSERT_TRUE(probe.ok());
    port = probe->server->grpc_port();
  }
  auto client = Connect(absl::StrCat("grpc://127.0.0.1:", port), 3);
  agent::v1::ActRequest act;
  act.set_action("echo");
  CallStats stats;
  CallOptions options;
  options.stats = &stats;
  options.timeout = absl::Seconds(10);
  auto result = client->Act(act, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(stats.attempts, 3) << result.status();
}

TEST(RetryTest, ResourceExhaustedRetriedOnlyWithServerPushback) {
  // One call at a time: a second concurrent call is refused with pushback.
  ServerOptions options;
  options.limits.max_concurrent_calls = 1;
  options.limits.overload_pushback = absl::Milliseconds(100);
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok());
  auto slow_client = Connect(server->url(), 1);
  std::thread slow([&] {
    test::v1::EchoRequest request;
    request.set_text("slow");
    request.set_delay_ms(300);
    test::v1::EchoResponse response;
    EXPECT_TRUE(slow_client->Call("kei.test.v1.EchoService/Echo", request, &response).ok());
  });
  while (!server->echo->handler_started.load()) absl::SleepFor(absl::Milliseconds(2));

  // Without retries: RESOURCE_EXHAUSTED, and the pushback rides along.
  test::v1::EchoRequest quick;
  quick.set_text("quick");
  test::v1::EchoResponse response;
  auto no_retry = Connect(server->url(), 1);
  EXPECT_EQ(no_retry->Call("kei.test.v1.EchoService/Echo", quick, &response).code(),
            absl::StatusCode::kResourceExhausted);
  // With retries: the client waits out the pushback and succeeds.
  CallStats stats;
  CallOptions call;
  call.stats = &stats;
  auto retrying = Connect(server->url(), 10);
  absl::Status status = retrying->Call("kei.test.v1.EchoService/Echo", quick, &response, call);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_GT(stats.attempts, 1);
  EXPECT_EQ(stats.attempt_statuses[0].code(), absl::StatusCode::kResourceExhausted);
  slow.join();
}

TEST(RetryTest, RetriesStopAtTheCallDeadline) {
  auto failing = std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Plan", 1000);
  auto server = StartTestServer({}, [&](Server& s) { s.AddInterceptor(failing); });
  ASSERT_TRUE(server.ok());
  ClientConfig config;
  config.retry.max_attempts = 1000;
  config.retry.initial_backoff = absl::Milliseconds(20);
  config.retry.max_backoff = absl::Milliseconds(50);
  auto client = *KEIRPCClient::Connect(server->url(), config);
  agent::v1::PlanRequest request;
  request.set_objective("echo x");
  CallOptions options;
  options.timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  auto plan = client->Plan(request, options);
  EXPECT_FALSE(plan.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_LT(failing->attempts.load(), 1000);
}

}  // namespace
}  // namespace kei::testing
