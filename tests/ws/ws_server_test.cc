// The WebSocket client side against a real kei::Server's stream endpoint
// (/api/v1/stream on the HTTP listener): KEIRPCClient over ws://, every
// stream kind in both encodings (proto and JSON frames), errors, and
// KEIStreamClient topics.
#include <algorithm>
#include <atomic>

#include "clients/kei_rpc_client.h"
#include "cc/registry/descriptor_registry.h"
#include "clients/stream/kei_stream_client.h"
#include "clients/ws/stream_frame_codec.h"
#include "clients/ws/ws_transport.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"

namespace kei::testing {
namespace {

class WsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    auto started = StartTestServer(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }
  std::string WsUrl() const { return absl::StrCat("ws://", server_.server->http_target()); }
  TestServer server_;
};

TEST_F(WsServerTest, KeiRpcClientOverWs) {
  ClientConfig config;
  config.retry = RetryPolicy::None();
  auto client = KEIRPCClient::Connect(WsUrl(), config);
  ASSERT_TRUE(client.ok()) << client.status();
  test::v1::EchoRequest request;
  request.set_text("protocol");
  test::v1::EchoResponse response;
  ASSERT_TRUE((*client)->Call("kei.test.v1.EchoService/Echo", request, &response).ok());
  request.set_text("fail");
  EXPECT_EQ((*client)->Call("kei.test.v1.EchoService/Echo", request, &response).code(),
            absl::StatusCode::kFailedPrecondition);
  request.set_text("slow");
  request.set_delay_ms(5000);
  CallOptions options;
  options.timeout = absl::Milliseconds(200);
  EXPECT_EQ((*client)->Call("kei.test.v1.EchoService/Echo", request, &response, options).code(),
            absl::StatusCode::kDeadlineExceeded);

  agent::v1::PlanRequest plan;
  plan.set_objective("echo over ws then count words in x y");
  auto planned = (*client)->Plan(plan);
  ASSERT_TRUE(planned.ok()) << planned.status();
}

TEST_F(WsServerTest, StreamsOfEveryKind) {
  KEIStreamClient client(WsUrl());
  ASSERT_TRUE(client.Connect().ok());
  test::v1::ExpandRequest expand;
  expand.set_text("x");
  expand.set_count(200);
  auto stream = client.OpenServerStream<test::v1::ExpandRequest, test::v1::EchoResponse>(
      "kei.test.v1.EchoService/Expand", expand);
  ASSERT_TRUE(stream.ok()) << stream.status();
  test::v1::EchoResponse response;
  int n = 0;
  while (stream->Read(&response)) EXPECT_EQ(response.index(), n++);
  EXPECT_EQ(n, 200);
  EXPECT_TRUE(stream->Finish().ok());

  auto collect = client.OpenTypedStream<test::v1::EchoRequest, test::v1::EchoResponse>(
      "kei.test.v1.EchoService/Collect");
  ASSERT_TRUE(collect.ok());
  test::v1::EchoRequest request;
  for (int i = 0; i < 100; ++i) {
    request.set_text("w");
    ASSERT_TRUE(collect->Write(request));
  }
  ASSERT_TRUE(collect->CloseSend());
  ASSERT_TRUE(collect->Read(&response));
  EXPECT_EQ(response.index(), 100);
  EXPECT_TRUE(collect->Finish().ok());

  auto chat = client.OpenTypedStream<test::v1::EchoRequest, test::v1::EchoResponse>(
      "kei.test.v1.EchoService/Chat");
  ASSERT_TRUE(chat.ok());
  request.set_text("hi");
  ASSERT_TRUE(chat->Write(request));
  ASSERT_TRUE(chat->Read(&response));
  EXPECT_EQ(response.text(), "hi");
  chat->Cancel();
  EXPECT_EQ(chat->Finish().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(server_.echo->handler_stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

// The transport asks for proto frames by default and can be told to use
// JSON; calls behave the same either way.
TEST_F(WsServerTest, CallMessagesInProtoAndJsonFrames) {
  for (bool proto : {true, false}) {
    SCOPED_TRACE(proto ? "proto frames" : "JSON frames");
    WsTransportOptions options;
    options.proto_frames = proto;
    auto endpoint = ParseEndpoint(WsUrl());
    ASSERT_TRUE(endpoint.ok());
    auto transport = WsTransport::Create(*endpoint, ClientConfig(), options);
    ASSERT_TRUE(transport.ok()) << transport.status();
    const auto& registry = DescriptorRegistry::Default();
    test::v1::EchoRequest request;
    request.set_text("h\u00e9llo \"x\"\n");
    test::v1::EchoResponse response;
    AttemptOutcome outcome =
        (*transport)->Unary(*registry.FindMethod("kei.test.v1.EchoService/Echo"), request,
                            &response, CallOptions());
    ASSERT_TRUE(outcome.status.ok()) << outcome.status;
    EXPECT_EQ(response.text(), request.text());
    EXPECT_EQ((*transport)->proto_frames(), proto);
    request.set_text("fail");
    outcome = (*transport)->Unary(*registry.FindMethod("kei.test.v1.EchoService/Echo"), request,
                                  &response, CallOptions());
    EXPECT_EQ(outcome.status.code(), absl::StatusCode::kFailedPrecondition);

    // Bidi, including the empty message (no payload on proto frames).
    auto chat = (*transport)->OpenStream(*registry.FindMethod("kei.test.v1.EchoService/Chat"),
                                         CallOptions());
    ASSERT_TRUE(chat.ok()) << chat.status();
    for (const char* text : {"one", "", "three"}) {
      request.set_text(text);
      ASSERT_TRUE((*chat)->Write(request));
      ASSERT_TRUE((*chat)->Read(&response));
      EXPECT_EQ(response.text(), text);
    }
    ASSERT_TRUE((*chat)->CloseSend());
    EXPECT_FALSE((*chat)->Read(&response));
    EXPECT_TRUE((*chat)->Finish().ok());
  }
}

TEST_F(WsServerTest, TopicsPublishSubscribeResume) {
  KEIStreamClient client(WsUrl());
  ASSERT_TRUE(client.Connect().ok());
  absl::Mutex mu;
  std::vector<uint64_t> seen;
  auto id = client.Subscribe("chat", [&](const TopicEvent& event) {
    absl::MutexLock lock(&mu);
    seen.push_back(event.sequence);
  });
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 3; ++i) {
    auto seq = client.Publish("chat", *ws::ParseJsonValue(absl::StrCat(R"({"n":)", i, "}")));
    ASSERT_TRUE(seq.ok()) << seq.status();
  }
  for (int i = 0; i < 250; ++i) {
    {
      absl::MutexLock lock(&mu);
      if (seen.size() >= 3) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  client.Disconnect();
  KEIStreamClient publisher(WsUrl());
  ASSERT_TRUE(publisher.Connect().ok());
  ASSERT_TRUE(publisher.Publish("chat", *ws::ParseJsonValue(R"({"n":3})")).ok());
  ASSERT_TRUE(client.Connect().ok());  // resumes after the last sequence seen
  for (int i = 0; i < 250; ++i) {
    {
      absl::MutexLock lock(&mu);
      if (seen.size() >= 4) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 4u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_EQ(seen[i], seen[i - 1] + 1);
}


// The server goes away and comes back on the same port (a fresh process would
// lose its topics the same way): the client reconnects by itself, its
// subscription comes back with one handler, and new messages arrive once.
TEST(WsServerRestartTest, ReconnectsAndResubscribesAfterRestart) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto first = StartTestServer(options);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string address = first->server->http_target();

  KEIStreamClientOptions client_options;
  client_options.reconnect.initial_backoff = absl::Milliseconds(20);
  client_options.reconnect.max_backoff = absl::Milliseconds(200);
  std::atomic<int> connects{0};
  client_options.on_connection_change = [&](bool connected) {
    if (connected) connects.fetch_add(1);
  };
  KEIStreamClient client(absl::StrCat("ws://", address), client_options);
  ASSERT_TRUE(client.Connect().ok());
  absl::Mutex mu;
  std::vector<std::string> seen;
  auto id = client.Subscribe("restart.room", [&](const TopicEvent& event) {
    absl::MutexLock lock(&mu);
    seen.push_back(event.data.struct_value().fields().at("n").string_value());
  });
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(client.Publish("restart.room", *ws::ParseJsonValue(R"({"n":"before"})")).ok());
  auto wait_for = [&](size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        absl::MutexLock lock(&mu);
        if (seen.size() >= n) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  };
  ASSERT_TRUE(wait_for(1));

  first->server->Shutdown(absl::Seconds(1));
  first = absl::UnavailableError("stopped");
  for (int i = 0; i < 100 && client.IsConnected(); ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(client.IsConnected());

  ServerOptions again = options;
  again.http_address = address;
  auto second = StartTestServer(again);
  ASSERT_TRUE(second.ok()) << second.status();
  for (int i = 0; i < 500 && !(client.IsConnected() && connects.load() >= 2); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(client.IsConnected());
  EXPECT_GE(client.reconnects(), 1);

  // Publish from another client until the resubscribed one sees it (the
  // resubscription races with the first publishes).
  KEIStreamClient publisher(absl::StrCat("ws://", address));
  ASSERT_TRUE(publisher.Connect().ok());
  bool arrived = false;
  for (int attempt = 0; attempt < 50 && !arrived; ++attempt) {
    ASSERT_TRUE(publisher.Publish("restart.room", *ws::ParseJsonValue(R"({"n":"after"})")).ok());
    absl::SleepFor(absl::Milliseconds(50));
    absl::MutexLock lock(&mu);
    arrived = std::count(seen.begin(), seen.end(), "after") > 0;
  }
  ASSERT_TRUE(arrived);
  // One handler: each publish after the resubscription arrives exactly once.
  const uint64_t before = [&] {
    absl::MutexLock lock(&mu);
    return static_cast<uint64_t>(seen.size());
  }();
  ASSERT_TRUE(publisher.Publish("restart.room", *ws::ParseJsonValue(R"({"n":"last"})")).ok());
  ASSERT_TRUE(wait_for(before + 1));
  absl::SleepFor(absl::Milliseconds(200));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.size(), before + 1);
  EXPECT_EQ(seen.back(), "last");
}

}  // namespace
}  // namespace kei::testing
