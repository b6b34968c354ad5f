// McpTransport against a real kei::Server: KEIRPCClient over mcp+http:// URLs
// gives the same typed results as over gRPC; tool errors, unknown tools,
// deadlines, auth and per-call metadata map as on every other transport; a
// UnifiedClient prefers MCP when told to and falls back to gRPC when the MCP
// endpoint is down; streams are refused; `keictl call` takes the URL too.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/kei_rpc_client.h"
#include "clients/mcp/mcp_transport.h"
#include "clients/protocol_client_factory.h"
#include "clients/unified_client.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

MethodInfo Method(const char* name) { return *DescriptorRegistry::Default().FindMethod(name); }

class McpTransportTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.http_address = "127.0.0.1:0";
    auto started = StartTestServer(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }
  std::string McpUrl() const {
    return absl::StrCat("mcp+http://", server_.server->http_target(), "/mcp");
  }
  std::unique_ptr<KEIRPCClient> Client(ClientConfig config = {}) {
    config.retry = RetryPolicy::None();
    auto client = KEIRPCClient::Connect(McpUrl(), config);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  TestServer server_;
};

TEST(McpEndpointTest, SchemesParseAndRegister) {
  auto plain = ParseEndpoint("mcp+http://127.0.0.1:8080/mcp");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->scheme, "mcp+http");
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->port, 8080);
  EXPECT_EQ(plain->path, "/mcp");
  auto secure = ParseEndpoint("MCP+HTTPS://agent.example");
  ASSERT_TRUE(secure.ok()) << secure.status();
  EXPECT_EQ(secure->scheme, "mcp+https");
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->port, 443);
  EXPECT_EQ(ProtocolName(Protocol::kMcp), "mcp");

  const auto& factory = ProtocolClientFactory::Default();
  EXPECT_TRUE(factory.Supports("mcp+http"));
  EXPECT_TRUE(factory.Supports("mcp+https"));
  auto transport = factory.CreateTransport("mcp+http://127.0.0.1:8080", {});
  ASSERT_TRUE(transport.ok()) << transport.status();
  EXPECT_EQ((*transport)->protocol(), Protocol::kMcp);
  // The path defaults to /mcp; nothing connects yet.
  EXPECT_EQ((*transport)->target(), "mcp+http://127.0.0.1:8080/mcp");
  auto by_protocol = factory.CreateTransport(Protocol::kMcp, "127.0.0.1:8080", true, {});
  ASSERT_TRUE(by_protocol.ok()) << by_protocol.status();
  EXPECT_EQ((*by_protocol)->target(), "mcp+https://127.0.0.1:8080/mcp");
  EXPECT_EQ(static_cast<McpTransport&>(**by_protocol).url(), "https://127.0.0.1:8080/mcp");

  ClientConfig missing_ca;
  missing_ca.tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(factory.CreateTransport("mcp+https://127.0.0.1:8443/mcp", missing_ca).ok());
}

TEST_F(McpTransportTest, AgentCallsMatchGrpc) {
  Start();
  auto mcp = Client();
  ASSERT_NE(mcp, nullptr);
  EXPECT_EQ(mcp->transport().protocol(), Protocol::kMcp);
  EXPECT_EQ(mcp->transport().target(), McpUrl());
  auto grpc = KEIRPCClient::Connect(server_.url());
  ASSERT_TRUE(grpc.ok()) << grpc.status();

  agent::v1::PlanRequest plan_request;
  plan_request.set_objective("echo hello then count words in a b c");
  auto plan = mcp->Plan(plan_request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto grpc_plan = (*grpc)->Plan(plan_request);
  ASSERT_TRUE(grpc_plan.ok()) << grpc_plan.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*plan, *grpc_plan))
      << plan->DebugString() << "\nvs\n" << grpc_plan->DebugString();
  ASSERT_EQ(plan->steps_size(), 2);

  agent::v1::ExplainRequest explain;
  explain.set_plan_id(plan->plan_id());
  auto explanation = mcp->Explain(explain);
  ASSERT_TRUE(explanation.ok()) << explanation.status();
  auto grpc_explanation = (*grpc)->Explain(explain);
  ASSERT_TRUE(grpc_explanation.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*explanation, *grpc_explanation));

  agent::v1::ActRequest act;
  act.set_action("add");
  auto* values = (*act.mutable_params()->mutable_fields())["values"].mutable_list_value();
  values->add_values()->set_number_value(2);
  values->add_values()->set_number_value(40);
  auto acted = mcp->Act(act);
  ASSERT_TRUE(acted.ok()) << acted.status();
  auto grpc_acted = (*grpc)->Act(act);
  ASSERT_TRUE(grpc_acted.ok());
  EXPECT_EQ(acted->action(), "add");
  EXPECT_EQ(acted->output().number_value(), 42);
  EXPECT_TRUE(MessageDifferencer::Equals(acted->output(), grpc_acted->output()));
  EXPECT_EQ(acted->summary(), grpc_acted->summary());
  EXPECT_EQ(acted->event_sequence() + 1, grpc_acted->event_sequence());

  agent::v1::ObserveRequest observe;
  observe.set_source("mcp");
  observe.set_content("seen over MCP");
  (*observe.mutable_labels())["via"] = "mcp";
  auto observed = mcp->Observe(observe);
  ASSERT_TRUE(observed.ok()) << observed.status();
  auto grpc_observed = (*grpc)->Observe(observe);
  ASSERT_TRUE(grpc_observed.ok());
  EXPECT_EQ(observed->observation_id(), absl::StrCat("obs-", observed->sequence()));
  EXPECT_EQ(observed->sequence() + 1, grpc_observed->sequence());
  EXPECT_TRUE(observed->has_recorded_at());

  // Any unary method, JSON in and out; the handler saw the call come in over MCP.
  auto json = mcp->CallJson("kei.test.v1.EchoService/Echo", R"({"text":"protocol"})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_TRUE(absl::StrContains(*json, "\"mcp\"")) << *json;
}

TEST_F(McpTransportTest, ToolNamesComeFromTheServersRule) {
  Start();
  auto transport = McpTransport::Create(*ParseEndpoint(McpUrl()), {});
  ASSERT_TRUE(transport.ok()) << transport.status();
  EXPECT_EQ((*transport)->ToolName(Method("kei.agent.v1.AgentService/Plan")), "plan");
  EXPECT_EQ((*transport)->ToolName(Method("kei.test.v1.EchoService/Echo")), "EchoService_Echo");
  EXPECT_TRUE((*transport)->connected());
  // Every name the client derives is a tool the server has.
  for (const char* method : {"kei.agent.v1.AgentService/Plan", "kei.agent.v1.AgentService/Act",
                             "kei.agent.v1.AgentService/Observe",
                             "kei.agent.v1.AgentService/Explain",
                             "kei.test.v1.EchoService/Echo"}) {
    std::string name = (*transport)->ToolName(Method(method));
    EXPECT_NE(server_.server->mcp()->FindTool(name), nullptr) << method << " -> " << name;
  }
}

TEST_F(McpTransportTest, ToolErrorsKeepTheirCode) {
  Start();
  auto client = Client();
  ASSERT_NE(client, nullptr);
  agent::v1::ActRequest bad;
  bad.set_action("x");
  CallStats stats;
  CallOptions options;
  options.stats = &stats;
  auto failed = client->Act(bad, options);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument) << failed.status();
  EXPECT_TRUE(absl::StartsWith(failed.status().message(), "action: unknown action 'x'"))
      << failed.status();
  EXPECT_EQ(stats.protocol, Protocol::kMcp);
  // The same status as over gRPC, message and all.
  auto grpc = KEIRPCClient::Connect(server_.url());
  ASSERT_TRUE(grpc.ok()) << grpc.status();
  EXPECT_EQ(failed.status(), (*grpc)->Act(bad).status());

  // A required field left out: the dispatcher's validation, same code.
  auto empty = client->Plan(agent::v1::PlanRequest());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument) << empty.status();

  // Codes injected by the handler come back as they were.
  test::v1::EchoRequest echo;
  echo.set_text("fail");
  test::v1::EchoResponse response;
  absl::Status status = client->Call("kei.test.v1.EchoService/Echo", echo, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(status.message(), "asked to fail");
  echo.set_text(absl::StrCat("code:", static_cast<int>(absl::StatusCode::kResourceExhausted)));
  status = client->Call("kei.test.v1.EchoService/Echo", echo, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
}

TEST_F(McpTransportTest, MissingAndStreamingMethodsAreUnimplemented) {
  // A server without the echo service: its tool does not exist there.
  ServerOptions options;
  options.grpc_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  Server server(options);
  ASSERT_TRUE(server.AddService(agent::v1::BindAgentService(
                                    std::make_shared<agent::AgentService>()))
                  .ok());
  ASSERT_TRUE(server.Start().ok());
  auto client = KEIRPCClient::Connect(absl::StrCat("mcp+http://", server.http_target(), "/mcp"));
  ASSERT_TRUE(client.ok()) << client.status();
  test::v1::EchoRequest echo;
  echo.set_text("hi");
  test::v1::EchoResponse response;
  CallStats stats;
  CallOptions call;
  call.stats = &stats;
  absl::Status missing = (*client)->Call("kei.test.v1.EchoService/Echo", echo, &response, call);
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnimplemented) << missing;
  EXPECT_TRUE(absl::StrContains(missing.message(), "EchoService_Echo")) << missing;
  EXPECT_EQ(stats.attempts, 1);

  // The service still answers afterwards.
  agent::v1::PlanRequest plan;
  plan.set_objective("echo still here");
  EXPECT_TRUE((*client)->Plan(plan).ok());

  // Watch opts out of MCP (and streams): refused without a round trip.
  agent::v1::WatchRequest watch;
  agent::v1::AgentEvent event;
  AttemptOutcome outcome = (*client)->transport().Unary(
      Method("kei.agent.v1.AgentService/Watch"), watch, &event, CallOptions());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnimplemented) << outcome.status;
  EXPECT_FALSE(outcome.reached_server);

  auto stream = (*client)->transport().OpenStream(Method("kei.agent.v1.AgentService/Watch"), {});
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "MCP tools are unary"))
      << stream.status();
}

TEST_F(McpTransportTest, DeadlineExceeded) {
  Start();
  auto client = Client();
  ASSERT_NE(client, nullptr);
  agent::v1::ActRequest sleep;
  sleep.set_action("sleep");
  (*sleep.mutable_params()->mutable_fields())["ms"].set_number_value(5000);
  CallOptions options;
  options.timeout = absl::Milliseconds(200);
  absl::Time start = absl::Now();
  auto slept = client->Act(sleep, options);
  EXPECT_EQ(slept.status().code(), absl::StatusCode::kDeadlineExceeded) << slept.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  // A deadline already gone never leaves the client.
  options.timeout = absl::InfiniteDuration();
  options.deadline = absl::Now() - absl::Seconds(1);
  agent::v1::ActResponse unused;
  AttemptOutcome outcome = client->transport().Unary(Method("kei.agent.v1.AgentService/Act"),
                                                     sleep, &unused, options);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(outcome.reached_server);

  // The session is still good.
  agent::v1::PlanRequest plan;
  plan.set_objective("echo after the deadline");
  EXPECT_TRUE(client->Plan(plan).ok());
}

TEST_F(McpTransportTest, AuthAndMetadata) {
  ServerOptions options;
  options.auth.bearer_tokens["m-token"] = "mcp-client";
  Start(options);

  auto anonymous = Client();
  ASSERT_NE(anonymous, nullptr);  // connecting is lazy
  agent::v1::PlanRequest plan;
  plan.set_objective("echo secret");
  CallStats stats;
  CallOptions call;
  call.stats = &stats;
  EXPECT_EQ(anonymous->Plan(plan, call).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(stats.attempts, 1);

  ClientConfig config;
  config.bearer_token = "m-token";
  config.metadata.emplace("x-client-meta", "from-config");
  auto client = Client(config);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Plan(plan).ok());
  test::v1::EchoRequest echo;
  test::v1::EchoResponse response;
  echo.set_text("whoami");
  ASSERT_TRUE(client->Call("kei.test.v1.EchoService/Echo", echo, &response).ok());
  EXPECT_EQ(response.text(), "bearer:mcp-client");
  echo.set_text("meta:x-client-meta");
  ASSERT_TRUE(client->Call("kei.test.v1.EchoService/Echo", echo, &response).ok());
  EXPECT_EQ(response.text(), "from-config");

  // A call's own metadata travels too.
  CallOptions with_metadata;
  with_metadata.metadata.emplace("x-trace", "t-42");
  echo.set_text("meta:x-trace");
  ASSERT_TRUE(client->Call("kei.test.v1.EchoService/Echo", echo, &response, with_metadata).ok());
  EXPECT_EQ(response.text(), "t-42");
  ASSERT_TRUE(client->Call("kei.test.v1.EchoService/Echo", echo, &response).ok());
  EXPECT_EQ(response.text(), "<none>");
}

UnifiedClientOptions UnifiedOptions(std::vector<std::string> endpoints) {
  UnifiedClientOptions options;
  options.endpoints = std::move(endpoints);
  options.preference = {Protocol::kMcp};
  options.config.retry = RetryPolicy::None();
  options.config.default_timeout = absl::Seconds(5);
  return options;
}

TEST_F(McpTransportTest, UnifiedClientPrefersMcpAndFallsBackToGrpc) {
  Start();
  auto unified = UnifiedClient::Create(UnifiedOptions({McpUrl(), server_.url()}));
  ASSERT_TRUE(unified.ok()) << unified.status();
  EXPECT_EQ((*unified)->Plan(CallKind::kUnary).front(), Protocol::kMcp);
  KEIRPCClient rpc(*unified, RetryPolicy::None());
  auto json = rpc.CallJson("kei.test.v1.EchoService/Echo", R"({"text":"protocol"})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_TRUE(absl::StrContains(*json, "\"mcp\"")) << *json;
  EXPECT_EQ((*unified)->last_protocol(), Protocol::kMcp);
  // Streams go to a protocol that has them.
  EXPECT_EQ((*unified)->Plan(CallKind::kStream), std::vector<Protocol>{Protocol::kGrpc});

  // The MCP endpoint is down (nothing listens on its port any more).
  int dead_port;
  {
    ServerOptions probe_options;
    probe_options.http_address = "127.0.0.1:0";
    auto probe = StartTestServer(probe_options);
    ASSERT_TRUE(probe.ok());
    dead_port = probe->server->http_port();
  }
  auto fallback = UnifiedClient::Create(
      UnifiedOptions({absl::StrCat("mcp+http://127.0.0.1:", dead_port, "/mcp"), server_.url()}));
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ((*fallback)->Plan(CallKind::kUnary).front(), Protocol::kMcp);
  KEIRPCClient via_fallback(*fallback, RetryPolicy::None());
  // Act is not idempotent, but the MCP attempt never reached a server.
  agent::v1::ActRequest act;
  act.set_action("echo");
  (*act.mutable_params()->mutable_fields())["text"].set_string_value("via fallback");
  CallStats stats;
  CallOptions call;
  call.stats = &stats;
  auto acted = via_fallback.Act(act, call);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_EQ(acted->output().string_value(), "via fallback");
  EXPECT_EQ(stats.protocol, Protocol::kGrpc);
  EXPECT_EQ((*fallback)->last_protocol(), Protocol::kGrpc);
  // MCP sits out its cool-down: gRPC goes first now.
  EXPECT_EQ((*fallback)->Plan(CallKind::kUnary).front(), Protocol::kGrpc);
}

TEST_F(McpTransportTest, KeictlCallsOverMcp) {
  std::string keictl = FindTestFile("tools/keictl/keictl", "KEI_KEICTL_PATH");
  if (keictl.empty()) GTEST_SKIP() << "keictl binary not found";
  Start();
  auto ok = RunCommand({keictl, "call", McpUrl(), "kei.agent.v1.AgentService/Act",
                        R"({"action":"uppercase","params":{"text":"mcp"}})"},
                       absl::Seconds(20));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->exit_code, 0) << ok->output;
  EXPECT_TRUE(absl::StrContains(ok->output, "\"MCP\"")) << ok->output;

  auto bad = RunCommand({keictl, "call", McpUrl(), "kei.agent.v1.AgentService/Act",
                         R"({"action":"nope"})"},
                        absl::Seconds(20));
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->exit_code, 3) << bad->output;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(bad->output, "ERROR: INVALID_ARGUMENT: action:")) << bad->output;
}

}  // namespace
}  // namespace kei::testing
