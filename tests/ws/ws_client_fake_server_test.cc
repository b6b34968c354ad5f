// The WebSocket transport and KEIStreamClient against a scripted server
// (fake_stream_server.h), so the client side is tested on its own: handshake
// headers, unary calls and errors, every stream kind with credit, deadlines
// with cancel frames, many calls at once, and reconnects that resubscribe
// from the last sequence without delivering any sequence twice.
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "clients/kei_rpc_client.h"
#include "clients/protocol_client_factory.h"
#include "clients/stream/kei_stream_client.h"
#include "clients/ws/ws_transport.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.pb.h"
#include "tests/ws/fake_stream_server.h"

namespace kei::testing {
namespace {

using v1::StreamFrame;

StreamFrame Reply(const std::string& type, const std::string& id) {
  StreamFrame frame;
  frame.set_type(type);
  frame.set_id(id);
  return frame;
}

// Plays the server's side of the protocol for the echo service and topics.
class Script {
 public:
  std::vector<StreamFrame> operator()(const StreamFrame& in) {
    absl::MutexLock lock(&mu);
    std::vector<StreamFrame> out;
    const std::string& type = in.type();
    if (type == "call") {
      methods[in.id()] = in.method();
      last_timeout_ms = in.timeout_ms();
      auto fields = in.data().struct_value().fields();
      std::string text = fields.count("text") ? fields["text"].string_value() : "";
      if (in.method() == "kei.test.v1.EchoService/Echo") {
        if (text == "fail") {
          StreamFrame e = Reply("error", in.id());
          e.set_code("failed_precondition");
          e.set_message("asked to fail");
          out.push_back(e);
        } else if (text != "hang") {
          StreamFrame r = Reply("response", in.id());
          *r.mutable_data() = in.data();
          out.push_back(r);
        }
      } else if (in.method() == "kei.test.v1.EchoService/Expand") {
        int count = static_cast<int>(fields["count"].number_value());
        for (int i = 0; i < count; ++i) {
          StreamFrame m = Reply("message", in.id());
          *m.mutable_data() = *ws::ParseJsonValue(absl::StrCat(R"({"text":")", text,
                                                               R"(","index":)", i, "}"));
          out.push_back(m);
        }
        StreamFrame end = Reply("end", in.id());
        end.set_code("ok");
        out.push_back(end);
      }
    } else if (type == "message") {
      std::string text = in.data().struct_value().fields().at("text").string_value();
      ++messages_received;
      StreamFrame credit = Reply("credit", in.id());
      credit.set_credit(1);
      out.push_back(credit);
      if (methods[in.id()] == "kei.test.v1.EchoService/Chat") {
        StreamFrame m = Reply("message", in.id());
        *m.mutable_data() = in.data();
        out.push_back(m);
      } else {
        joined[in.id()] += (joined[in.id()].empty() ? "" : " ") + text;
      }
    } else if (type == "half_close") {
      if (methods[in.id()] == "kei.test.v1.EchoService/Collect") {
        StreamFrame m = Reply("message", in.id());
        *m.mutable_data() = *ws::ParseJsonValue(absl::StrCat(R"({"text":")", joined[in.id()], R"("})"));
        out.push_back(m);
      }
      StreamFrame end = Reply("end", in.id());
      end.set_code("ok");
      out.push_back(end);
    } else if (type == "cancel") {
      cancelled.push_back(in.id());
    } else if (type == "subscribe") {
      subscribe_sequences.push_back(in.sequence());
      subscriptions[in.id()] = in.topic();
      StreamFrame s = Reply("subscribed", in.id());
      s.set_topic(in.topic());
      s.set_sequence(retained.size());
      s.set_first_sequence(1);
      out.push_back(s);
      // A sloppy server: replays one message too many on resume.
      uint64_t from = in.sequence() > 0 ? in.sequence() : retained.size() + 1;
      for (uint64_t seq = from; seq >= 1 && seq <= retained.size(); ++seq) {
        out.push_back(Event(in.id(), in.topic(), seq));
      }
    } else if (type == "publish") {
      retained.push_back(in.data());
      StreamFrame p = Reply("published", in.id());
      p.set_topic(in.topic());
      p.set_sequence(retained.size());
      out.push_back(p);
      for (const auto& [id, topic] : subscriptions) {
        if (topic == in.topic()) out.push_back(Event(id, topic, retained.size()));
      }
    } else if (type == "unsubscribe") {
      subscriptions.erase(in.id());
      out.push_back(Reply("unsubscribed", in.id()));
    } else if (type == "ping.app") {
      StreamFrame pong = Reply("pong.app", "");
      *pong.mutable_data() = in.data();
      out.push_back(pong);
    }
    return out;
  }

  StreamFrame Event(const std::string& id, const std::string& topic, uint64_t seq) {
    StreamFrame e = Reply("event", id);
    e.set_topic(topic);
    e.set_sequence(seq);
    *e.mutable_data() = retained[seq - 1];
    return e;
  }

  absl::Mutex mu;
  std::map<std::string, std::string> methods;
  std::map<std::string, std::string> joined;
  std::map<std::string, std::string> subscriptions;
  std::vector<google::protobuf::Value> retained;
  std::vector<std::string> cancelled;
  std::vector<uint64_t> subscribe_sequences;
  uint32_t last_timeout_ms = 0;
  int messages_received = 0;
};

class WsFakeServerTest : public ::testing::Test {
 protected:
  WsFakeServerTest()
      : server_([this](const StreamFrame& frame) { return script_(frame); }) {}
  MethodInfo Method(const std::string& name) {
    return *DescriptorRegistry::Default().FindMethod(name);
  }
  std::shared_ptr<WsTransport> Transport(ClientConfig config = {}) {
    auto endpoint = ParseEndpoint(server_.url());
    auto transport = WsTransport::Create(*endpoint, config);
    EXPECT_TRUE(transport.ok()) << transport.status();
    return *transport;
  }
  Script script_;
  FakeStreamServer server_;
};

// A server that picks kei.stream.v1.proto but would look for call messages
// in `data` (no "payload" in its welcome) is refused, never sent messages it
// would read as empty; asking for JSON frames works with it.
TEST_F(WsFakeServerTest, RefusesAnOlderProtoServer) {
  server_.ActAsOlderProtoServer();
  auto proto = Transport();
  absl::Status status = proto->Connect();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("proto_frames"), std::string::npos) << status;

  WsTransportOptions options;
  options.proto_frames = false;
  auto endpoint = ParseEndpoint(server_.url());
  auto json = WsTransport::Create(*endpoint, ClientConfig(), options);
  ASSERT_TRUE(json.ok());
  EXPECT_TRUE((*json)->Connect().ok());
  EXPECT_FALSE((*json)->proto_frames());
}

TEST_F(WsFakeServerTest, KeiRpcClientUnaryOverWsUrl) {
  ClientConfig config;
  config.bearer_token = "t0k";
  config.retry = RetryPolicy::None();
  auto client = KEIRPCClient::Connect(server_.url(), config);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->transport().protocol(), Protocol::kWebSocket);
  test::v1::EchoRequest request;
  request.set_text("hello");
  test::v1::EchoResponse response;
  CallOptions options;
  options.timeout = absl::Seconds(5);
  ASSERT_TRUE((*client)->Call("kei.test.v1.EchoService/Echo", request, &response, options).ok());
  EXPECT_EQ(response.text(), "hello");
  EXPECT_EQ(server_.last_authorization(), "Bearer t0k");
  {
    absl::MutexLock lock(&script_.mu);
    EXPECT_GT(script_.last_timeout_ms, 4000u);
    EXPECT_LE(script_.last_timeout_ms, 5000u);
  }
  request.set_text("fail");
  absl::Status failed = (*client)->Call("kei.test.v1.EchoService/Echo", request, &response, options);
  EXPECT_EQ(failed, absl::FailedPreconditionError("asked to fail"));
  EXPECT_EQ(server_.connections_accepted(), 1);
}

TEST_F(WsFakeServerTest, DeadlineCancelsTheCall) {
  auto transport = Transport();
  test::v1::EchoRequest request;
  request.set_text("hang");
  test::v1::EchoResponse response;
  CallOptions options;
  options.timeout = absl::Milliseconds(100);
  absl::Time start = absl::Now();
  AttemptOutcome outcome =
      transport->Unary(Method("kei.test.v1.EchoService/Echo"), request, &response, options);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  for (int i = 0; i < 100; ++i) {
    absl::MutexLock lock(&script_.mu);
    if (!script_.cancelled.empty()) break;
    script_.mu.AwaitWithTimeout(absl::Condition(+[](void*) { return false; }, nullptr),
                                absl::Milliseconds(20));
  }
  absl::MutexLock lock(&script_.mu);
  EXPECT_EQ(script_.cancelled.size(), 1u);
}

TEST_F(WsFakeServerTest, EveryStreamKindWithCredit) {
  auto transport = Transport();
  // Server streaming.
  auto expand = transport->OpenStream(Method("kei.test.v1.EchoService/Expand"), {});
  ASSERT_TRUE(expand.ok()) << expand.status();
  test::v1::ExpandRequest expand_request;
  expand_request.set_text("x");
  expand_request.set_count(100);
  ASSERT_TRUE((*expand)->Write(expand_request));
  ASSERT_TRUE((*expand)->CloseSend());
  test::v1::EchoResponse response;
  int n = 0;
  while ((*expand)->Read(&response)) EXPECT_EQ(response.index(), n++);
  EXPECT_EQ(n, 100);
  EXPECT_TRUE((*expand)->Finish().ok());

  // Client streaming: 10 writes with an initial credit of 4 need granted credit.
  auto collect = transport->OpenStream(Method("kei.test.v1.EchoService/Collect"), {});
  ASSERT_TRUE(collect.ok());
  test::v1::EchoRequest request;
  for (int i = 0; i < 10; ++i) {
    request.set_text(absl::StrCat("w", i));
    ASSERT_TRUE((*collect)->Write(request)) << i;
  }
  ASSERT_TRUE((*collect)->CloseSend());
  ASSERT_TRUE((*collect)->Read(&response));
  EXPECT_EQ(response.text(), "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
  EXPECT_FALSE((*collect)->Read(&response));
  EXPECT_TRUE((*collect)->Finish().ok());

  // Bidi.
  auto chat = transport->OpenStream(Method("kei.test.v1.EchoService/Chat"), {});
  ASSERT_TRUE(chat.ok());
  for (int i = 0; i < 3; ++i) {
    request.set_text(absl::StrCat("m", i));
    ASSERT_TRUE((*chat)->Write(request));
    ASSERT_TRUE((*chat)->Read(&response));
    EXPECT_EQ(response.text(), absl::StrCat("m", i));
  }
  ASSERT_TRUE((*chat)->CloseSend());
  EXPECT_FALSE((*chat)->Read(&response));
  EXPECT_TRUE((*chat)->Finish().ok());
  EXPECT_EQ(transport->connections_opened(), 1);
}

TEST_F(WsFakeServerTest, ConcurrentCallsShareOneConnection) {
  auto transport = Transport();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        test::v1::EchoRequest request;
        request.set_text(absl::StrCat(t, "-", i));
        test::v1::EchoResponse response;
        CallOptions options;
        options.timeout = absl::Seconds(5);
        AttemptOutcome outcome = transport->Unary(Method("kei.test.v1.EchoService/Echo"),
                                                  request, &response, options);
        if (outcome.status.ok() && response.text() == request.text()) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(transport->connections_opened(), 1);
}

TEST_F(WsFakeServerTest, StreamClientPublishSubscribeAndHandlers) {
  KEIStreamClientOptions options;
  options.ping_interval = absl::Milliseconds(50);
  std::atomic<int> errors{0};
  options.on_error = [&](const absl::Status&) { ++errors; };
  KEIStreamClient client(server_.url(), options);
  ASSERT_TRUE(client.Connect().ok());
  EXPECT_TRUE(client.IsConnected());

  absl::Notification got_pong;
  client.RegisterHandler("pong.app", [&](const StreamFrame& frame) {
    if (!got_pong.HasBeenNotified()) got_pong.Notify();
  });
  ASSERT_TRUE(client.SendMessage("ping.app", *ws::ParseJsonValue(R"({"n":1})")).ok());
  EXPECT_TRUE(got_pong.WaitForNotificationWithTimeout(absl::Seconds(5)));

  absl::Mutex mu;
  std::vector<uint64_t> seen;
  auto id = client.Subscribe("chat", [&](const TopicEvent& event) {
    absl::MutexLock lock(&mu);
    seen.push_back(event.sequence);
    if (event.sequence == 1) throw std::runtime_error("handler failure");
  });
  ASSERT_TRUE(id.ok()) << id.status();
  auto seq = client.Publish("chat", *ws::ParseJsonValue(R"({"text":"a"})"));
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
  ASSERT_TRUE(client.Publish("chat", *ws::ParseJsonValue(R"({"text":"b"})")).ok());
  auto wait_for = [&](size_t count) {
    for (int i = 0; i < 250; ++i) {
      {
        absl::MutexLock lock(&mu);
        if (seen.size() >= count) return;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  };
  wait_for(2);
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  }
  EXPECT_EQ(client.handler_errors(), 1u);

  // Messages published while the client is away are retained by the server.
  {
    absl::MutexLock lock(&script_.mu);
    script_.retained.push_back(*ws::ParseJsonValue(R"({"text":"c"})"));
    script_.retained.push_back(*ws::ParseJsonValue(R"({"text":"d"})"));
  }
  server_.DropConnections();
  for (int i = 0; i < 250 && client.reconnects() == 0; ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(client.reconnects(), 1);
  wait_for(4);
  absl::SleepFor(absl::Milliseconds(100));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
  }
  {
    absl::MutexLock lock(&script_.mu);
    ASSERT_EQ(script_.subscribe_sequences.size(), 2u);
    EXPECT_EQ(script_.subscribe_sequences[1], 2u);  // resumed after the last seen
  }
  EXPECT_GE(client.duplicates_dropped(), 1u);  // the sloppy replay of 2
  EXPECT_TRUE(client.Unsubscribe(*id).ok());
  client.Disconnect();
  EXPECT_FALSE(client.IsConnected());
}

TEST(WsTransportOfflineTest, ConnectionRefusedIsUnavailableAndNotSent) {
  auto endpoint = ParseEndpoint("ws://127.0.0.1:1");
  auto transport = WsTransport::Create(*endpoint, {});
  ASSERT_TRUE(transport.ok());
  EXPECT_EQ((*transport)->target(), "ws://127.0.0.1:1/api/v1/stream");
  test::v1::EchoRequest request;
  test::v1::EchoResponse response;
  AttemptOutcome outcome = (*transport)->Unary(
      *DescriptorRegistry::Default().FindMethod("kei.test.v1.EchoService/Echo"), request,
      &response, {});
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(outcome.reached_server);
  EXPECT_TRUE(ProtocolClientFactory::Default().Supports("ws"));
  EXPECT_TRUE(ProtocolClientFactory::Default().Supports("wss"));
}

}  // namespace
}  // namespace kei::testing
