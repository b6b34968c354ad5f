// What handlers see through kei::Context on the gRPC path: request metadata,
// the authenticated identity, the caller's deadline, and cancellation when the
// caller goes away (unary and streaming).
#include <thread>

#include "clients/kei_rpc_client.h"
#include "gtest/gtest.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "kei/test/v1/echo.grpc.pb.h"
#include "tests/integration/test_services.h"

namespace kei::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

class GrpcContextTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    auto started = StartTestServer(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }
  std::unique_ptr<KEIRPCClient> Client(ClientConfig config = {}) {
    config.retry = RetryPolicy::None();
    auto client = KEIRPCClient::Connect(server_.url(), config);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }
  absl::StatusOr<std::string> Echo(KEIRPCClient& client, const std::string& text,
                                   CallOptions options = {}) {
    EchoRequest request;
    request.set_text(text);
    EchoResponse response;
    absl::Status s = client.Call("kei.test.v1.EchoService/Echo", request, &response, options);
    if (!s.ok()) return s;
    return response.text();
  }
  TestServer server_;
};

TEST_F(GrpcContextTest, MetadataReachesHandler) {
  Start();
  auto client = Client();
  CallOptions options;
  options.metadata.emplace("x-request-id", "abc-123");
  EXPECT_EQ(*Echo(*client, "meta:x-request-id", options), "abc-123");
  EXPECT_EQ(*Echo(*client, "meta:x-missing"), "<none>");
  EXPECT_EQ(*Echo(*client, "protocol"), "grpc");
}

TEST_F(GrpcContextTest, IdentityFromBearerTokenAndApiKey) {
  ServerOptions options;
  options.auth.bearer_tokens["s3cret"] = "alice";
  options.auth.api_keys["k-42"] = "build-bot";
  Start(options);

  ClientConfig bearer;
  bearer.bearer_token = "s3cret";
  EXPECT_EQ(*Echo(*Client(bearer), "whoami"), "bearer:alice");

  ClientConfig key;
  key.api_key = "k-42";
  EXPECT_EQ(*Echo(*Client(key), "whoami"), "api_key:build-bot");

  auto anonymous = Echo(*Client(), "whoami");
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(anonymous.status().message().find("missing credentials"), std::string::npos);

  ClientConfig wrong;
  wrong.bearer_token = "guess";
  auto rejected = Echo(*Client(wrong), "whoami");
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(rejected.status().message(), "invalid bearer token");

  // Auth applies to streams too, through the same interceptor.
  auto stream = Client(wrong)->transport().OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.agent.v1.AgentService/Watch"), {});
  ASSERT_TRUE(stream.ok());
  (*stream)->Write(agent::v1::WatchRequest());
  (*stream)->CloseSend();
  agent::v1::AgentEvent event;
  EXPECT_FALSE((*stream)->Read(&event));
  EXPECT_EQ((*stream)->Finish().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(GrpcContextTest, DeadlineExceededAndHandlerStopsEarly) {
  Start();
  auto client = Client();
  EchoRequest request;
  request.set_text("slow");
  request.set_delay_ms(10000);
  EchoResponse response;
  CallOptions options;
  options.timeout = absl::Milliseconds(200);
  absl::Time start = absl::Now();
  absl::Status s = client->Call("kei.test.v1.EchoService/Echo", request, &response, options);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // The handler learned of it instead of sleeping for ten seconds.
  ASSERT_TRUE(server_.echo->handler_stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

TEST_F(GrpcContextTest, UnaryHandlerObservesCallerCancellation) {
  Start();
  // A raw generated stub lets the test cancel a unary call mid-flight.
  auto channel = grpc::CreateChannel(server_.server->grpc_target(),
                                     grpc::InsecureChannelCredentials());
  auto stub = test::v1::EchoService::NewStub(channel);
  grpc::ClientContext context;
  EchoRequest request;
  request.set_delay_ms(20000);
  EchoResponse response;
  std::thread canceller([&] {
    while (!server_.echo->handler_started.load()) absl::SleepFor(absl::Milliseconds(5));
    context.TryCancel();
  });
  grpc::Status status = stub->Echo(&context, request, &response);
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(server_.echo->handler_stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(server_.echo->saw_cancellation.load());
  EXPECT_FALSE(server_.echo->saw_deadline.load());
}

TEST_F(GrpcContextTest, StreamHandlerObservesCallerCancellation) {
  Start();
  auto client = Client();
  auto stream = client->transport().OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.test.v1.EchoService/Chat"), {});
  ASSERT_TRUE(stream.ok());
  EchoRequest request;
  request.set_text("hello");
  ASSERT_TRUE((*stream)->Write(request));
  EchoResponse response;
  ASSERT_TRUE((*stream)->Read(&response));
  // The handler now waits for the next message; the caller walks away.
  (*stream)->Cancel();
  ASSERT_TRUE(server_.echo->handler_stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // The handler's Receive fails at once; its context learns why just after.
  CancellationToken token;
  {
    absl::MutexLock lock(&server_.echo->mu);
    token = server_.echo->chat_cancellation;
  }
  EXPECT_TRUE(token.WaitUntil(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ((*stream)->Finish().code(), absl::StatusCode::kCancelled);
}

TEST_F(GrpcContextTest, OversizeMessageIsRejected) {
  ServerOptions options;
  options.max_message_bytes = 64 * 1024;
  Start(options);
  auto big = Echo(*Client(), std::string(100 * 1024, 'x'));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted) << big.status();
  // The server keeps serving.
  EXPECT_EQ(*Echo(*Client(), "still here"), "still here");
}

// Adds response metadata gRPC cannot carry, as a careless handler (or one that
// echoes caller input into headers) would.
class BadResponseMetadataInterceptor final : public Interceptor {
 public:
  absl::Status OnCallStart(const MethodInfo&, Context& context) override {
    context.AddResponseMetadata("Bad Key", "x");
    context.AddResponseMetadata("x-newline", "line\nbreak");
    context.AddResponseMetadata("X-Upper", "kept");
    context.AddResponseMetadata("x-good", "fine");
    return absl::OkStatus();
  }
};

TEST_F(GrpcContextTest, InvalidResponseMetadataIsDroppedNotFatal) {
  auto started = StartTestServer({}, [](Server& server) {
    server.AddInterceptor(std::make_shared<BadResponseMetadataInterceptor>());
  });
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);
  auto channel = grpc::CreateChannel(server_.server->grpc_target(),
                                     grpc::InsecureChannelCredentials());
  auto stub = test::v1::EchoService::NewStub(channel);
  grpc::ClientContext context;
  EchoRequest request;
  request.set_text("hi");
  EchoResponse response;
  // Before the fix gRPC aborted the server process here.
  grpc::Status status = stub->Echo(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), "hi");
  const auto& trailers = context.GetServerTrailingMetadata();
  EXPECT_EQ(trailers.count("x-good"), 1u);
  EXPECT_EQ(trailers.count("x-upper"), 1u);
  EXPECT_EQ(trailers.count("x-newline"), 0u);
}

TEST_F(GrpcContextTest, InvalidRequestMetadataIsAnErrorNotACrash) {
  Start();
  CallOptions bad_key;
  bad_key.metadata.emplace("bad key", "x");
  auto s = Echo(*Client(), "hi", bad_key);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  CallOptions bad_value;
  bad_value.metadata.emplace("x-ok", "line\nbreak");
  s = Echo(*Client(), "hi", bad_value);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  ClientConfig bad_token;
  bad_token.bearer_token = "a\nb";
  s = Echo(*Client(bad_token), "hi");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  auto stream = Client()->transport().OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.test.v1.EchoService/Chat"), bad_key);
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kInvalidArgument);
  // Binary values are fine under a -bin key.
  CallOptions binary;
  binary.metadata.emplace("x-raw-bin", std::string("\0\n\xff", 3));
  EXPECT_EQ(*Echo(*Client(), "hi", binary), "hi");
}

TEST_F(GrpcContextTest, UnaryCancellationTokenOutlivesTheCall) {
  Start();
  ASSERT_EQ(*Echo(*Client(), "hi"), "hi");
  CancellationToken token;
  {
    absl::MutexLock lock(&server_.echo->mu);
    token = server_.echo->unary_cancellation;
  }
  // The call and its gRPC server context are gone; asking must not touch them.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(token.IsCancelled());
  EXPECT_FALSE(token.WaitUntil(absl::Now() + absl::Milliseconds(30)));
}

}  // namespace
}  // namespace kei::testing

namespace kei::testing {
namespace {

TEST(GrpcHandlerPoolTest, BlockingHandlersDoNotStallOtherCalls) {
  auto server = StartTestServer();
  ASSERT_TRUE(server.ok());
  ClientConfig config;
  config.retry = RetryPolicy::None();
  auto client = *KEIRPCClient::Connect(server->url(), config);
  // More blocked handlers than gRPC has callback threads on this machine.
  std::vector<std::thread> slow;
  for (int i = 0; i < 8; ++i) {
    slow.emplace_back([&] {
      test::v1::EchoRequest request;
      request.set_text("slow");
      request.set_delay_ms(1500);
      test::v1::EchoResponse response;
      EXPECT_TRUE(client->Call("kei.test.v1.EchoService/Echo", request, &response).ok());
    });
  }
  while (!server->echo->handler_started.load()) absl::SleepFor(absl::Milliseconds(2));
  absl::SleepFor(absl::Milliseconds(100));
  absl::Time start = absl::Now();
  test::v1::EchoRequest quick;
  quick.set_text("quick");
  test::v1::EchoResponse response;
  EXPECT_TRUE(client->Call("kei.test.v1.EchoService/Echo", quick, &response).ok());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1000));
  for (auto& t : slow) t.join();
}

}  // namespace
}  // namespace kei::testing
