// The client side over HTTP against keid's real listener: KEIRPCClient and the
// UnifiedClient on http:// and https:// URLs, unchanged from gRPC; Connect
// unary and server streaming through HttpTransport; errors, deadlines, auth,
// retries, TLS/mTLS, falling back from gRPC to HTTP, and keep-alive reuse.
#include "clients/kei_rpc_client.h"
#include "clients/unified_client.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/test_ca.h"

namespace kei::testing {
namespace {

class HttpTransportTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}, const std::function<void(Server&)>& customize = nullptr) {
    options.http_address = "127.0.0.1:0";
    auto started = StartTestServer(options, customize);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }
  std::string HttpUrl(const std::string& scheme = "http") const {
    return absl::StrCat(scheme, "://", server_.server->http_target());
  }
  std::unique_ptr<KEIRPCClient> Client(ClientConfig config = {}, const std::string& scheme = "http") {
    if (!config.retry.max_attempts) config.retry = RetryPolicy::None();
    auto client = KEIRPCClient::Connect(HttpUrl(scheme), config);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }
  TestServer server_;
};

TEST_F(HttpTransportTest, KeiRpcClientWorksOverHttpUnchanged) {
  Start();
  ClientConfig config;
  config.retry = RetryPolicy::None();
  auto client = Client(config);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->transport().protocol(), Protocol::kHttp);

  agent::v1::PlanRequest plan_request;
  plan_request.set_objective("echo over http then count words in x y");
  auto plan = client->Plan(plan_request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->steps_size(), 2);
  agent::v1::ExplainRequest explain;
  explain.set_plan_id(plan->plan_id());
  EXPECT_TRUE(client->Explain(explain).ok());

  agent::v1::ActRequest bad;
  bad.set_action("nope");
  auto failed = client->Act(bad);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(failed.status().message().find("unknown action"), std::string::npos);

  auto json = client->CallJson("kei.agent.v1.AgentService/Observe", R"({"source":"h","content":"c"})");
  ASSERT_TRUE(json.ok()) << json.status();

  // Server streaming over Connect envelopes.
  auto stream = client->transport().OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.agent.v1.AgentService/Watch"), {});
  ASSERT_TRUE(stream.ok());
  agent::v1::WatchRequest watch;
  watch.set_from_sequence(1);
  watch.set_max_events(2);
  ASSERT_TRUE((*stream)->Write(watch));
  ASSERT_TRUE((*stream)->CloseSend());
  agent::v1::AgentEvent event;
  int events = 0;
  while ((*stream)->Read(&event)) EXPECT_EQ(event.sequence(), static_cast<uint64_t>(++events));
  EXPECT_EQ(events, 2);
  EXPECT_TRUE((*stream)->Finish().ok());
}

TEST_F(HttpTransportTest, SequentialCallsReuseOneConnection) {
  Start();
  auto client = Client();
  int before = server_.server->http_server()->accepted();
  for (int i = 0; i < 20; ++i) {
    agent::v1::ObserveRequest observe;
    observe.set_source("reuse");
    observe.set_content(absl::StrCat(i));
    ASSERT_TRUE(client->Observe(observe).ok());
  }
  EXPECT_EQ(server_.server->http_server()->accepted() - before, 1);
}

TEST_F(HttpTransportTest, DeadlineAuthAndRetries) {
  ServerOptions options;
  options.auth.bearer_tokens["h-token"] = "http-client";
  auto failing = std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Plan", 2);
  Start(options, [&](Server& s) { s.AddInterceptor(failing); });

  EXPECT_EQ(Client()->Plan(agent::v1::PlanRequest()).status().code(),
            absl::StatusCode::kUnauthenticated);

  ClientConfig config;
  config.bearer_token = "h-token";
  config.retry.max_attempts = 4;
  config.retry.initial_backoff = absl::Milliseconds(5);
  auto client = Client(config);
  agent::v1::PlanRequest plan;
  plan.set_objective("echo retried");
  CallStats stats;
  CallOptions call;
  call.stats = &stats;
  auto planned = client->Plan(plan, call);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(stats.attempts, 3);
  EXPECT_EQ(stats.protocol, Protocol::kHttp);

  test::v1::EchoRequest slow;
  slow.set_text("whoami");
  slow.set_delay_ms(5000);
  test::v1::EchoResponse response;
  CallOptions deadline;
  deadline.timeout = absl::Milliseconds(150);
  absl::Time start = absl::Now();
  EXPECT_EQ(client->Call("kei.test.v1.EchoService/Echo", slow, &response, deadline).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  slow.set_delay_ms(0);
  ASSERT_TRUE(client->Call("kei.test.v1.EchoService/Echo", slow, &response).ok());
  EXPECT_EQ(response.text(), "bearer:http-client");
}

TEST_F(HttpTransportTest, HttpsAndMutualTls) {
  auto certs = CreateTestCertificates();
  ASSERT_TRUE(certs.ok()) << certs.status();
  ServerOptions options;
  options.tls.cert_file = certs->server_cert;
  options.tls.key_file = certs->server_key;
  options.tls.client_ca_file = certs->ca_cert;
  Start(options);
  ClientConfig config;
  config.tls.ca_file = certs->ca_cert;
  config.tls.cert_file = certs->client_cert;
  config.tls.key_file = certs->client_key;
  auto client = Client(config, "https");
  test::v1::EchoRequest request;
  request.set_text("whoami");
  test::v1::EchoResponse response;
  absl::Status s = client->Call("kei.test.v1.EchoService/Echo", request, &response);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(response.text(), "mtls:test-client");

  ClientConfig untrusting;  // system roots do not know the test CA
  EXPECT_EQ(Client(untrusting, "https")->Call("kei.test.v1.EchoService/Echo", request, &response).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(HttpTransportTest, UnifiedClientFallsBackFromGrpcToHttp) {
  Start();
  int dead_port = 0;
  {
    auto probe = StartTestServer();
    dead_port = probe->server->grpc_port();
  }
  UnifiedClientOptions options;
  options.endpoints = {absl::StrCat("grpc://127.0.0.1:", dead_port), HttpUrl()};
  options.config.retry = RetryPolicy::None();
  auto unified = UnifiedClient::Create(options);
  ASSERT_TRUE(unified.ok()) << unified.status();
  KEIRPCClient client(*unified, RetryPolicy::None());
  agent::v1::ActRequest act;
  act.set_action("echo");
  (*act.mutable_params()->mutable_fields())["text"].set_string_value("over http");
  auto result = client.Act(act);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*unified)->last_protocol(), Protocol::kHttp);
}

}  // namespace
}  // namespace kei::testing
