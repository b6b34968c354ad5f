// UnifiedClient against real servers: protocol order, fallback to the next
// protocol only on UNAVAILABLE and only when safe, skipping a protocol that
// could not connect, and typed clients running on top unchanged. The second
// protocol in most tests is a test scheme the factory maps to a gRPC
// transport (two live endpoints, full control); one test puts gRPC, HTTP and
// WebSocket endpoints of one server behind the same client.
#include "absl/strings/str_cat.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/grpc/grpc_transport.h"
#include "clients/kei_rpc_client.h"
#include "clients/unified_client.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"

namespace kei::testing {
namespace {

// A factory with grpc:// plus "alt://", a second protocol slot (kHttp).
ProtocolClientFactory TestFactory() {
  ProtocolClientFactory factory;
  RegisterBuiltinTransports(factory);
  factory.RegisterScheme("alt", Protocol::kHttp,
                         [](const Endpoint& endpoint, const ClientConfig& config)
                             -> absl::StatusOr<std::shared_ptr<Transport>> {
                           Endpoint grpc = endpoint;
                           grpc.scheme = "grpc";
                           auto t = GrpcTransport::Create(grpc, config);
                           if (!t.ok()) return t.status();
                           // Report the slot's protocol.
                           class Alt final : public Transport {
                            public:
                             explicit Alt(std::shared_ptr<Transport> inner) : inner_(inner) {}
                             Protocol protocol() const override { return Protocol::kHttp; }
                             std::string target() const override { return inner_->target(); }
                             AttemptOutcome Unary(const MethodInfo& m,
                                                  const google::protobuf::Message& req,
                                                  google::protobuf::Message* resp,
                                                  const CallOptions& o) override {
                               return inner_->Unary(m, req, resp, o);
                             }
                             absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
                                 const MethodInfo& m, const CallOptions& o) override {
                               return inner_->OpenStream(m, o);
                             }
                             bool Available() const override { return inner_->Available(); }

                            private:
                             std::shared_ptr<Transport> inner_;
                           };
                           return std::shared_ptr<Transport>(new Alt(*t));
                         });
  return factory;
}

int DeadPort() {
  auto probe = StartTestServer();
  return probe->server->grpc_port();
}

UnifiedClientOptions Options(std::vector<std::string> endpoints) {
  UnifiedClientOptions options;
  options.endpoints = std::move(endpoints);
  options.config.retry = RetryPolicy::None();
  options.config.default_timeout = absl::Seconds(5);
  return options;
}

TEST(UnifiedClientTest, FallsBackWhenTheFirstProtocolCannotConnect) {
  auto alive = StartTestServer();
  ASSERT_TRUE(alive.ok());
  auto factory = TestFactory();
  auto client = UnifiedClient::Create(
      Options({absl::StrCat("grpc://127.0.0.1:", DeadPort()),
               absl::StrCat("alt://", alive->server->grpc_target())}),
      factory);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->Plan(CallKind::kUnary).front(), Protocol::kGrpc);

  // Act is not idempotent, but the gRPC attempt never reached a server.
  KEIRPCClient rpc(*client, RetryPolicy::None());
  agent::v1::ActRequest act;
  act.set_action("echo");
  (*act.mutable_params()->mutable_fields())["text"].set_string_value("via fallback");
  CallStats stats;
  CallOptions options;
  options.stats = &stats;
  auto result = rpc.Act(act, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->output().string_value(), "via fallback");
  EXPECT_EQ(stats.protocol, Protocol::kHttp);
  EXPECT_EQ((*client)->last_protocol(), Protocol::kHttp);
  // The protocol that could not connect now goes last.
  EXPECT_EQ((*client)->Plan(CallKind::kUnary).front(), Protocol::kHttp);
}

TEST(UnifiedClientTest, ServerUnavailableFallsBackOnlyForIdempotentMethods) {
  auto failing = std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Act", 100);
  auto failing_plan =
      std::make_shared<FailFirstInterceptor>("kei.agent.v1.AgentService/Plan", 100);
  auto primary = StartTestServer({}, [&](Server& s) {
    s.AddInterceptor(failing);
    s.AddInterceptor(failing_plan);
  });
  auto secondary = StartTestServer();
  ASSERT_TRUE(primary.ok() && secondary.ok());
  auto factory = TestFactory();
  auto client = UnifiedClient::Create(
      Options({primary->url(), absl::StrCat("alt://", secondary->server->grpc_target())}),
      factory);
  ASSERT_TRUE(client.ok());
  KEIRPCClient rpc(*client, RetryPolicy::None());

  // Non-idempotent, reached the server: the answer stands; no second try.
  agent::v1::ActRequest act;
  act.set_action("echo");
  (*act.mutable_params()->mutable_fields())["text"].set_string_value("x");
  EXPECT_EQ(rpc.Act(act).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failing->attempts.load(), 1);
  EXPECT_EQ(secondary->agent->events().last_sequence(), 0u);

  // Idempotent: safe to ask the next protocol.
  agent::v1::PlanRequest plan;
  plan.set_objective("echo fallback");
  auto planned = rpc.Plan(plan);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(failing_plan->attempts.load(), 1);
  EXPECT_EQ((*client)->last_protocol(), Protocol::kHttp);
}

TEST(UnifiedClientTest, PreferenceAndJsonCalls) {
  auto a = StartTestServer();
  auto b = StartTestServer();
  ASSERT_TRUE(a.ok() && b.ok());
  auto factory = TestFactory();
  auto options = Options({a->url(), absl::StrCat("alt://", b->server->grpc_target())});
  options.preference = {Protocol::kHttp};
  auto client = UnifiedClient::Create(options, factory);
  ASSERT_TRUE(client.ok());
  auto json = (*client)->CallJson("kei.agent.v1.AgentService/Observe",
                                  R"({"source":"unified","content":"hi"})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*client)->last_protocol(), Protocol::kHttp);
  EXPECT_EQ(b->agent->events().last_sequence(), 1u);
  EXPECT_EQ(a->agent->events().last_sequence(), 0u);

  // Streams go through the same selection.
  auto stream = (*client)->OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.test.v1.EchoService/Expand"), {});
  ASSERT_TRUE(stream.ok());
  test::v1::ExpandRequest expand;
  expand.set_text("s");
  expand.set_count(2);
  (*stream)->Write(expand);
  (*stream)->CloseSend();
  test::v1::EchoResponse response;
  int n = 0;
  while ((*stream)->Read(&response)) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_TRUE((*stream)->Finish().ok());
}

// All three wire protocols of one server behind one UnifiedClient: unary
// calls go to gRPC first, streams to WebSocket first, a preference moves
// unary calls to WebSocket, and a WebSocket endpoint that cannot connect
// falls back to gRPC for streams.
TEST(UnifiedClientTest, GrpcHttpAndWebSocketEndpoints) {
  ServerOptions server_options;
  server_options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(server_options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string http = server->server->http_target();
  auto client = UnifiedClient::Create(
      Options({server->url(), absl::StrCat("http://", http), absl::StrCat("ws://", http)}));
  ASSERT_TRUE(client.ok()) << client.status();
  test::v1::EchoRequest request;
  request.set_text("protocol");
  test::v1::EchoResponse response;
  ASSERT_TRUE((*client)->Call("kei.test.v1.EchoService/Echo", request, &response).ok());
  EXPECT_EQ(response.text(), "grpc");
  EXPECT_EQ((*client)->Plan(CallKind::kStream).front(), Protocol::kWebSocket);

  auto method = DescriptorRegistry::Default().FindMethod("kei.test.v1.EchoService/Expand");
  ASSERT_TRUE(method.ok()) << method.status();
  auto stream = (*client)->OpenStream(*method, CallOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  test::v1::ExpandRequest expand;
  expand.set_text("x");
  expand.set_count(3);
  ASSERT_TRUE((*stream)->Write(expand));
  ASSERT_TRUE((*stream)->CloseSend());
  int n = 0;
  while ((*stream)->Read(&response)) ++n;
  EXPECT_TRUE((*stream)->Finish().ok());
  EXPECT_EQ(n, 3);
  EXPECT_EQ((*client)->last_protocol(), Protocol::kWebSocket);

  UnifiedClientOptions prefer_ws =
      Options({server->url(), absl::StrCat("ws://", http)});
  prefer_ws.preference = {Protocol::kWebSocket};
  auto ws_first = UnifiedClient::Create(prefer_ws);
  ASSERT_TRUE(ws_first.ok()) << ws_first.status();
  ASSERT_TRUE((*ws_first)->Call("kei.test.v1.EchoService/Echo", request, &response).ok());
  EXPECT_EQ(response.text(), "websocket");

  auto dead_ws = UnifiedClient::Create(
      Options({server->url(), absl::StrCat("ws://127.0.0.1:", DeadPort())}));
  ASSERT_TRUE(dead_ws.ok()) << dead_ws.status();
  auto fallback = (*dead_ws)->OpenStream(*method, CallOptions());
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  ASSERT_TRUE((*fallback)->Write(expand));
  ASSERT_TRUE((*fallback)->CloseSend());
  n = 0;
  while ((*fallback)->Read(&response)) ++n;
  EXPECT_TRUE((*fallback)->Finish().ok());
  EXPECT_EQ(n, 3);
}

TEST(UnifiedClientTest, BadConfigurationIsRejected) {
  EXPECT_EQ(UnifiedClient::Create(Options({})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnifiedClient::Create(Options({"ftp://x:1"})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnifiedClient::Create(Options({"grpc://a:1", "grpc://b:2"})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kei::testing
