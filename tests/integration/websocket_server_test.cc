// The KEI stream protocol on a real listener: every call kind, many calls on
// one connection, credit-based flow control, topics, auth from the handshake,
// both encodings, bad input, slow consumers and shutdown, over real sockets.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.pb.h"
#include "kei/v1/stream.pb.h"
#include "tests/integration/test_services.h"
#include "tests/support/raw_http_client.h"
#include "tests/support/ws_test_client.h"

namespace kei::testing {
namespace {

using ::testing::HasSubstr;

ServerOptions WsOptions() {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.http.io_threads = 2;
  return options;
}

std::unique_ptr<WsTestClient> MustConnect(const TestServer& t, WsTestClientOptions o = {}) {
  auto client = WsTestClient::Connect(t.server->http_port(), std::move(o));
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return nullptr;
  auto welcome = (*client)->Read();
  EXPECT_TRUE(welcome.ok()) << welcome.status();
  if (welcome.ok()) EXPECT_EQ(welcome->frame.type(), "welcome");
  return *std::move(client);
}

std::string Call(absl::string_view id, absl::string_view method, absl::string_view data,
                 absl::string_view extra = "") {
  return absl::StrCat(R"({"type":"call","id":")", id, R"(","method":")", method, R"(")",
                      data.empty() ? "" : absl::StrCat(R"(,"data":)", data), extra, "}");
}

std::string Message(absl::string_view id, absl::string_view data) {
  return absl::StrCat(R"({"type":"message","id":")", id, R"(","data":)", data, "}");
}

std::string Frame(absl::string_view type, absl::string_view id, absl::string_view extra = "") {
  return absl::StrCat(R"({"type":")", type, R"(","id":")", id, R"(")", extra, "}");
}

class WebSocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(WsOptions()); }
  void Start(ServerOptions options) {
    auto started = StartTestServer(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status();
    t_ = *std::move(started);
  }
  TestServer t_;
};

TEST_F(WebSocketServerTest, WelcomeDescribesTheConnection) {
  auto client = WsTestClient::Connect(t_.server->http_port());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->subprotocol(), "kei.stream.v1.json");
  auto welcome = (*client)->Read();
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_EQ(welcome->frame.type(), "welcome");
  EXPECT_TRUE(welcome->frame.has_timestamp());
  EXPECT_THAT(welcome->data_json, HasSubstr(R"("maxMessageBytes":1048576)"));
  EXPECT_THAT(welcome->data_json, HasSubstr(R"("initialCredit":64)"));
}

TEST_F(WebSocketServerTest, UnaryCallsAnswerWithResponseOrError) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("1", "kei.agent.v1.AgentService/Plan",
                                R"({"objective":"write a report"})")).ok());
  auto response = client->ReadType("response", "1");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->data_json, HasSubstr(R"("planId":"plan-)"));

  ASSERT_TRUE(client->Send(Call("2", "kei.agent.v1.AgentService/Explain", "{}")).ok());
  auto error = client->ReadType("error", "2");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "invalid_argument");
  EXPECT_THAT(error->frame.message(), HasSubstr("plan_id"));

  ASSERT_TRUE(client->Send(Call("3", "kei.test.v1.EchoService/Echo", R"({"text":"code:5"})")).ok());
  error = client->ReadType("error", "3");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "not_found");

  ASSERT_TRUE(client->Send(Call("4", "no.Such/Method", "{}")).ok());
  error = client->ReadType("error", "4");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "unimplemented");
}

TEST_F(WebSocketServerTest, ContextCarriesHandshakeAndCallMetadata) {
  WsTestClientOptions o;
  o.headers = {{"x-tenant", "acme"}};
  auto client = MustConnect(t_, o);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"meta:x-tenant"})")).ok());
  auto response = client->ReadType("response", "1");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->data_json, HasSubstr("acme"));
  ASSERT_TRUE(client->Send(Call("2", "kei.test.v1.EchoService/Echo", R"({"text":"meta:x-call"})",
                                R"(,"metadata":{"X-Call":"per-call"})")).ok());
  response = client->ReadType("response", "2");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->data_json, HasSubstr("per-call"));
  ASSERT_TRUE(client->Send(Call("3", "kei.test.v1.EchoService/Echo", R"({"text":"protocol"})")).ok());
  response = client->ReadType("response", "3");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->data_json, HasSubstr("websocket"));
}

TEST_F(WebSocketServerTest, DeadlineFromTimeoutMs) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("1", "kei.test.v1.EchoService/Echo",
                                R"({"text":"slow","delayMs":5000})", R"(,"timeoutMs":100)")).ok());
  auto error = client->ReadType("error", "1", absl::Seconds(4));
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "deadline_exceeded");
}

TEST_F(WebSocketServerTest, ServerStreamingEndsWithEnd) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("s", "kei.test.v1.EchoService/Expand",
                                R"({"text":"hi","count":5})")).ok());
  for (int i = 0; i < 5; ++i) {
    auto message = client->ReadType("message", "s");
    ASSERT_TRUE(message.ok()) << message.status();
    EXPECT_THAT(message->data_json, HasSubstr(R"("text":"hi")"));
  }
  auto end = client->ReadType("end", "s");
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->frame.code(), "ok");
}

TEST_F(WebSocketServerTest, ServerSendsOnlyWithinTheClientsCredit) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("s", "kei.test.v1.EchoService/Expand",
                                R"({"text":"x","count":10})", R"(,"credit":3)")).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->ReadType("message", "s").ok());
  // No fourth message until the client grants more.
  auto more = client->Read(absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(more.status())) << more.status();
  ASSERT_TRUE(client->Send(Frame("credit", "s", R"(,"credit":100)")).ok());
  for (int i = 3; i < 10; ++i) ASSERT_TRUE(client->ReadType("message", "s").ok());
  ASSERT_TRUE(client->ReadType("end", "s").ok());
}

TEST_F(WebSocketServerTest, ClientStreamingAndBidi) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("c", "kei.test.v1.EchoService/Collect", R"({"text":"a"})")).ok());
  ASSERT_TRUE(client->Send(Message("c", R"({"text":"b"})")).ok());
  ASSERT_TRUE(client->Send(Message("c", R"({"text":"c"})")).ok());
  ASSERT_TRUE(client->Send(Frame("half_close", "c")).ok());
  auto collected = client->ReadType("message", "c");
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_THAT(collected->data_json, HasSubstr(R"("text":"a b c")"));
  ASSERT_TRUE(client->ReadType("end", "c").ok());

  ASSERT_TRUE(client->Send(Call("b", "kei.test.v1.EchoService/Chat", "")).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->Send(Message("b", absl::StrCat(R"({"text":"m)", i, R"("})"))).ok());
    auto echoed = client->ReadType("message", "b");
    ASSERT_TRUE(echoed.ok()) << echoed.status();
    EXPECT_THAT(echoed->data_json, HasSubstr(absl::StrCat("m", i)));
  }
  ASSERT_TRUE(client->Send(Frame("half_close", "b")).ok());
  ASSERT_TRUE(client->ReadType("end", "b").ok());
}

TEST_F(WebSocketServerTest, ClientStreamingResponseArrivesAsMessage) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("c", "kei.test.v1.EchoService/Collect", "")).ok());
  ASSERT_TRUE(client->Send(Message("c", R"({"text":"x"})")).ok());
  ASSERT_TRUE(client->Send(Message("c", R"({"text":"y"})")).ok());
  ASSERT_TRUE(client->Send(Frame("half_close", "c")).ok());
  auto message = client->ReadType("message", "c");
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_THAT(message->data_json, HasSubstr(R"("text":"x y")"));
  ASSERT_TRUE(client->ReadType("end", "c").ok());
}

TEST_F(WebSocketServerTest, ManyConcurrentStreamsOnOneConnection) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  constexpr int kStreams = 40;
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_TRUE(client->Send(Call(absl::StrCat("chat", s), "kei.test.v1.EchoService/Chat", "")).ok());
  }
  for (int round = 0; round < 3; ++round) {
    for (int s = 0; s < kStreams; ++s) {
      ASSERT_TRUE(client->Send(Message(absl::StrCat("chat", s),
                                       absl::StrCat(R"({"text":"s)", s, "r", round, R"("})"))).ok());
    }
  }
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_TRUE(client->Send(Frame("half_close", absl::StrCat("chat", s))).ok());
  }
  std::map<std::string, int> messages;
  std::map<std::string, int> ends;
  while (static_cast<int>(ends.size()) < kStreams) {
    auto frame = client->Read();
    ASSERT_TRUE(frame.ok()) << frame.status();
    if (frame->frame.type() == "message") {
      // In order per stream.
      EXPECT_THAT(frame->data_json,
                  HasSubstr(absl::StrCat(frame->frame.id().substr(4), "r", messages[frame->frame.id()])));
      ++messages[frame->frame.id()];
    } else if (frame->frame.type() == "end") {
      ++ends[frame->frame.id()];
    } else {
      ADD_FAILURE() << "unexpected frame " << frame->frame.ShortDebugString();
    }
  }
  for (const auto& [id, count] : messages) EXPECT_EQ(count, 3) << id;
}

TEST_F(WebSocketServerTest, MessagesBeyondCreditFailTheCall) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  // Chat writes each echo before reading the next message; with a response
  // credit of 1 it stalls after the first, so the client's 200 messages
  // exceed its request window (64) without the server granting more.
  ASSERT_TRUE(client->Send(Call("c", "kei.test.v1.EchoService/Chat", "", R"(,"credit":1)")).ok());
  for (int i = 0; i < 200; ++i) {
    if (!client->Send(Message("c", R"({"text":"flood"})")).ok()) break;
  }
  auto error = client->ReadType("error", "c");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "resource_exhausted");
}

TEST_F(WebSocketServerTest, CancelEndsTheCallSilently) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("b", "kei.test.v1.EchoService/Chat", "")).ok());
  for (int i = 0; i < 100 && !t_.echo->handler_started.load(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(client->Send(Frame("cancel", "b")).ok());
  CancellationToken token;
  {
    absl::MutexLock lock(&t_.echo->mu);
    token = t_.echo->chat_cancellation;
  }
  EXPECT_TRUE(token.WaitUntil(absl::Now() + absl::Seconds(5)));
  // Nothing more for the cancelled call; the connection still works.
  ASSERT_TRUE(client->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"after"})")).ok());
  std::vector<websocket::ParsedFrame> skipped;
  auto response = client->ReadUntil(
      [](const websocket::ParsedFrame& f) { return f.frame.type() == "response"; },
      absl::Seconds(10), &skipped);
  ASSERT_TRUE(response.ok()) << response.status();
  for (const auto& f : skipped) EXPECT_NE(f.frame.id(), "b") << f.frame.ShortDebugString();
}

TEST_F(WebSocketServerTest, BadFramesGetErrorsAndTheConnectionKeepsServing) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("this is not json").ok());
  auto error = client->ReadType("error");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "invalid_argument");

  ASSERT_TRUE(client->Send(R"({"type":"call","id":7})").ok());  // wrong field type
  error = client->ReadType("error");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "invalid_argument");

  ASSERT_TRUE(client->Send(Frame("dance", "x")).ok());
  error = client->ReadType("error", "x");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "unimplemented");

  ASSERT_TRUE(client->Send(Message("nobody", "{}")).ok());
  error = client->ReadType("error", "nobody");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "not_found");

  ASSERT_TRUE(client->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":5})")).ok());
  error = client->ReadType("error", "1");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "invalid_argument");

  ASSERT_TRUE(client->Send(Call("2", "kei.test.v1.EchoService/Echo", R"({"text":"fine"})")).ok());
  ASSERT_TRUE(client->ReadType("response", "2").ok());
  ASSERT_TRUE(client->Send(Call("2", "kei.test.v1.EchoService/Chat", "")).ok());
  ASSERT_TRUE(client->Send(Call("2", "kei.test.v1.EchoService/Chat", "")).ok());
  error = client->ReadType("error", "2");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "already_exists");
}

TEST_F(WebSocketServerTest, OversizeMessageClosesWith1009AndOthersAreServed) {
  ServerOptions options = WsOptions();
  options.websocket.max_message_bytes = 4096;
  Start(options);
  auto big = MustConnect(t_);
  auto other = MustConnect(t_);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(big->Send(Call("1", "kei.test.v1.EchoService/Echo",
                             absl::StrCat(R"({"text":")", std::string(10000, 'x'), R"("})"))).ok());
  auto read = big->ReadRaw();
  EXPECT_FALSE(read.ok());
  EXPECT_EQ(big->close_code(), 1009);
  ASSERT_TRUE(other->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"ok"})")).ok());
  EXPECT_TRUE(other->ReadType("response", "1").ok());
}

TEST_F(WebSocketServerTest, BinaryFrameOnJsonConnectionClosesWith1003) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("\x0a\x04\x63\x61\x6c\x6c", /*binary=*/true).ok());
  absl::StatusOr<std::string> read;
  do {
    read = client->ReadRaw();
  } while (read.ok());
  EXPECT_EQ(client->close_code(), 1003);
}

TEST_F(WebSocketServerTest, ProtoSubprotocolCarriesCallMessagesSerialized) {
  WsTestClientOptions o;
  o.subprotocol = "kei.stream.v1.proto";
  auto client = MustConnect(t_, o);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->subprotocol(), "kei.stream.v1.proto");
  auto frame = [](const char* type, const char* id) {
    v1::StreamFrame f;
    f.set_type(type);
    f.set_id(id);
    return f;
  };
  // Unary: the request and the response are serialized messages in `payload`.
  test::v1::EchoRequest request;
  request.set_text("bin");
  v1::StreamFrame call = frame("call", "1");
  call.set_method("kei.test.v1.EchoService/Echo");
  call.set_payload(request.SerializeAsString());
  ASSERT_TRUE(client->Send(call.SerializeAsString(), /*binary=*/true).ok());
  auto response = client->ReadType("response", "1");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_payload);
  EXPECT_FALSE(response->has_data);
  test::v1::EchoResponse echoed;
  ASSERT_TRUE(echoed.ParseFromString(response->payload));
  EXPECT_EQ(echoed.text(), "bin");

  // Bidi: each message frame's payload, and the empty message as no payload.
  v1::StreamFrame chat = frame("call", "2");
  chat.set_method("kei.test.v1.EchoService/Chat");
  ASSERT_TRUE(client->Send(chat.SerializeAsString(), true).ok());
  v1::StreamFrame message = frame("message", "2");
  request.set_text("two");
  message.set_payload(request.SerializeAsString());
  ASSERT_TRUE(client->Send(message.SerializeAsString(), true).ok());
  ASSERT_TRUE(client->Send(frame("message", "2").SerializeAsString(), true).ok());
  for (const char* text : {"two", ""}) {
    auto m = client->ReadType("message", "2");
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(m->has_payload);
    ASSERT_TRUE(echoed.ParseFromString(m->payload));
    EXPECT_EQ(echoed.text(), text);
  }
  ASSERT_TRUE(client->Send(frame("half_close", "2").SerializeAsString(), true).ok());
  auto end = client->ReadType("end", "2");
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->frame.code(), "ok");

  // A call message as JSON `data` is refused here, naming `payload`; a
  // payload that is not the message is the call's INVALID_ARGUMENT.
  v1::StreamFrame json_call = frame("call", "3");
  json_call.set_method("kei.test.v1.EchoService/Echo");
  (*json_call.mutable_data()->mutable_struct_value()->mutable_fields())["text"].set_string_value("x");
  ASSERT_TRUE(client->Send(json_call.SerializeAsString(), true).ok());
  auto refused = client->ReadType("error", "3");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->frame.code(), "invalid_argument");
  EXPECT_THAT(refused->frame.message(), HasSubstr("payload"));
  v1::StreamFrame garbage = frame("call", "4");
  garbage.set_method("kei.test.v1.EchoService/Echo");
  garbage.set_payload("\xff\xff\xff");
  ASSERT_TRUE(client->Send(garbage.SerializeAsString(), true).ok());
  auto bad = client->ReadType("error", "4");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->frame.code(), "invalid_argument");

  // Topics keep JSON data on proto connections.
  v1::StreamFrame publish = frame("publish", "5");
  publish.set_topic("bin.room");
  (*publish.mutable_data()->mutable_struct_value()->mutable_fields())["n"].set_number_value(1);
  ASSERT_TRUE(client->Send(publish.SerializeAsString(), true).ok());
  auto published = client->ReadType("published", "5");
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->frame.sequence(), 1u);
}

TEST_F(WebSocketServerTest, JsonFramesRefusePayload) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(R"({"type":"call","id":"1","method":"kei.test.v1.EchoService/Echo",)"
                           R"("payload":"CgNiaW4="})").ok());
  auto error = client->ReadType("error", "1");  // the call hears it
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "invalid_argument");
  EXPECT_THAT(error->frame.message(), HasSubstr("payload"));
}

TEST_F(WebSocketServerTest, TopicsFanOutToEverySubscriber) {
  auto a = MustConnect(t_);
  auto b = MustConnect(t_);
  auto publisher = MustConnect(t_);
  ASSERT_TRUE(a && b && publisher);
  ASSERT_TRUE(a->Send(Frame("subscribe", "sa", R"(,"topic":"room")")).ok());
  ASSERT_TRUE(b->Send(Frame("subscribe", "sb", R"(,"topic":"room")")).ok());
  ASSERT_TRUE(a->ReadType("subscribed", "sa").ok());
  ASSERT_TRUE(b->ReadType("subscribed", "sb").ok());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(publisher->Send(Frame("publish", absl::StrCat("p", i),
                                      absl::StrCat(R"(,"topic":"room","data":{"n":)", i, "}"))).ok());
    auto published = publisher->ReadType("published", absl::StrCat("p", i));
    ASSERT_TRUE(published.ok()) << published.status();
    EXPECT_EQ(published->frame.sequence(), static_cast<uint64_t>(i));
  }
  for (auto* client : {a.get(), b.get()}) {
    for (int i = 1; i <= 3; ++i) {
      auto event = client->ReadType("event");
      ASSERT_TRUE(event.ok()) << event.status();
      EXPECT_EQ(event->frame.topic(), "room");
      EXPECT_EQ(event->frame.sequence(), static_cast<uint64_t>(i));
      EXPECT_EQ(event->data_json, absl::StrCat(R"({"n":)", i, "}"));
    }
  }
  // Unsubscribed: no more events for a; b still gets them.
  ASSERT_TRUE(a->Send(Frame("unsubscribe", "sa")).ok());
  ASSERT_TRUE(a->ReadType("unsubscribed", "sa").ok());
  ASSERT_TRUE(publisher->Send(Frame("publish", "p4", R"(,"topic":"room","data":4)")).ok());
  ASSERT_TRUE(b->ReadType("event", "sb").ok());
  auto none = a->Read(absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(none.status())) << none.status();
}

TEST_F(WebSocketServerTest, EventFramesCarryEachSubscribersOwnId) {
  auto a = MustConnect(t_);
  auto b = MustConnect(t_);
  ASSERT_TRUE(a && b);
  // Ids that need escaping in JSON; two subscriptions to one topic on `a`.
  ASSERT_TRUE(a->Send(R"({"type":"subscribe","id":"q\"uote\\","topic":"ids"})").ok());
  ASSERT_TRUE(a->ReadType("subscribed").ok());
  ASSERT_TRUE(a->Send(R"({"type":"subscribe","id":"tab\there","topic":"ids"})").ok());
  ASSERT_TRUE(a->ReadType("subscribed").ok());
  ASSERT_TRUE(b->Send(Frame("subscribe", "plain", R"(,"topic":"ids")")).ok());
  ASSERT_TRUE(b->ReadType("subscribed", "plain").ok());
  ASSERT_TRUE(b->Send(Frame("publish", "p", R"(,"topic":"ids","data":{"x":1})")).ok());
  std::set<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto event = a->ReadType("event");
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->data_json, R"({"x":1})");
    ids.insert(event->frame.id());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"q\"uote\\", "tab\there"}));
  auto event = b->ReadType("event", "plain");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->frame.sequence(), 1u);
}

TEST_F(WebSocketServerTest, SubscribeResumesAfterASequence) {
  auto publisher = MustConnect(t_);
  ASSERT_NE(publisher, nullptr);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(publisher->Send(Frame("publish", "p", absl::StrCat(R"(,"topic":"log","data":)", i))).ok());
    ASSERT_TRUE(publisher->ReadType("published", "p").ok());
  }
  auto late = MustConnect(t_);
  ASSERT_NE(late, nullptr);
  ASSERT_TRUE(late->Send(Frame("subscribe", "s", R"(,"topic":"log","sequence":3)")).ok());
  auto subscribed = late->Read();
  ASSERT_TRUE(subscribed.ok()) << subscribed.status();
  EXPECT_EQ(subscribed->frame.type(), "subscribed");
  EXPECT_EQ(subscribed->frame.sequence(), 5u);
  EXPECT_EQ(subscribed->frame.first_sequence(), 1u);
  for (uint64_t expected : {4u, 5u}) {
    auto event = late->Read();
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->frame.type(), "event");
    EXPECT_EQ(event->frame.sequence(), expected);
  }
}

TEST_F(WebSocketServerTest, AgentEventsArriveOnTheEventsTopicOnlyWhenPublished) {
  // The test server does not wire the agent's events to topics (keid does);
  // topics published through the Topics service reach WebSocket subscribers.
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Frame("subscribe", "s", R"(,"topic":"svc")")).ok());
  ASSERT_TRUE(client->ReadType("subscribed", "s").ok());
  ASSERT_TRUE(client->Send(Call("1", "kei.v1.Topics/Publish", R"({"topic":"svc","data":{"via":"rpc"}})")).ok());
  auto event = client->ReadType("event", "s");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->data_json, R"({"via":"rpc"})");
}

TEST_F(WebSocketServerTest, SlowConsumerIsClosedWith1013) {
  ServerOptions options = WsOptions();
  options.websocket.send_queue_bytes = 64 * 1024;
  Start(options);
  WsTestClientOptions o;
  auto slow = MustConnect(t_, o);
  auto fast = MustConnect(t_);
  ASSERT_TRUE(slow && fast);
  ASSERT_TRUE(slow->Send(Frame("subscribe", "s", R"(,"topic":"firehose")")).ok());
  ASSERT_TRUE(slow->ReadType("subscribed", "s").ok());
  // The slow client stops reading; the publisher floods the topic with more
  // than the socket buffers and the queue bound can hold.
  const std::string payload = absl::StrCat(R"(")", std::string(16 * 1024, 'z'), R"(")");
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(fast->Send(Frame("publish", "", absl::StrCat(R"(,"topic":"firehose","data":)", payload))).ok());
    if (i % 100 == 99) ASSERT_TRUE(fast->ReadType("published").ok());
  }
  // Reading now: whatever was buffered, then the close.
  absl::StatusOr<std::string> read;
  int frames = 0;
  do {
    read = slow->ReadRaw(absl::Seconds(10));
    ++frames;
  } while (read.ok() && frames < 5000);
  EXPECT_EQ(slow->close_code(), 1013);
  EXPECT_LT(frames, 2000);
  // The server keeps serving everyone else.
  ASSERT_TRUE(fast->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"ok"})")).ok());
  EXPECT_TRUE(fast->ReadType("response", "1").ok());
}

TEST_F(WebSocketServerTest, AuthComesFromTheHandshake) {
  ServerOptions options = WsOptions();
  options.auth.bearer_tokens = {{"s3cret", "alice"}};
  Start(options);
  auto refused = WsTestClient::Connect(t_.server->http_port());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("401"));

  WsTestClientOptions o;
  o.headers = {{"authorization", "Bearer s3cret"}};
  auto client = MustConnect(t_, o);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"whoami"})")).ok());
  auto response = client->ReadType("response", "1");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->data_json, HasSubstr("bearer:alice"));
}

TEST_F(WebSocketServerTest, PlainGetIsAskedToUpgrade) {
  auto connection = RawHttpConnection::Connect("127.0.0.1", t_.server->http_port());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto response = (*connection)->Send("GET", "/api/v1/stream", {}, "");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 426);
  EXPECT_EQ(response->header("upgrade"), "websocket");
}

TEST_F(WebSocketServerTest, IdleConnectionIsClosedAfterUnansweredPings) {
  ServerOptions options = WsOptions();
  options.websocket.idle_timeout = absl::Seconds(1);
  Start(options);
  auto idle = MustConnect(t_);
  auto active = MustConnect(t_);
  ASSERT_TRUE(idle && active);
  // `idle` reads nothing (so it answers no ping) for longer than the timeout;
  // `active` keeps reading, so its client answers the pings.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(active->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"hi"})")).ok());
    ASSERT_TRUE(active->ReadType("response", "1").ok());
    absl::SleepFor(absl::Milliseconds(500));
  }
  absl::StatusOr<std::string> read;
  do {
    read = idle->ReadRaw(absl::Seconds(5));
  } while (read.ok());
  EXPECT_TRUE(absl::IsUnavailable(read.status())) << read.status();
  ASSERT_TRUE(active->Send(Call("2", "kei.test.v1.EchoService/Echo", R"({"text":"still"})")).ok());
  EXPECT_TRUE(active->ReadType("response", "2").ok());
}

TEST_F(WebSocketServerTest, UnconsumedRequestBytesAreBoundedPerConnection) {
  ServerOptions options = WsOptions();
  options.websocket.receive_queue_bytes = 8 * 1024;
  Start(options);
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  // Chat answers each message before reading the next; with a response
  // credit of 1 it stops after the first, so what follows piles up unread.
  ASSERT_TRUE(client->Send(Call("c", "kei.test.v1.EchoService/Chat", "", R"(,"credit":1)")).ok());
  const std::string message = Message("c", absl::StrCat(R"({"text":")", std::string(1024, 'm'), R"("})"));
  for (int i = 0; i < 20; ++i) {
    if (!client->Send(message).ok()) break;
  }
  auto error = client->ReadType("error", "c");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "resource_exhausted");
  EXPECT_THAT(error->frame.message(), HasSubstr("not consumed"));
  // The budget is returned when the call ends: new calls work.
  ASSERT_TRUE(client->Send(Call("1", "kei.test.v1.EchoService/Echo", R"({"text":"after"})")).ok());
  EXPECT_TRUE(client->ReadType("response", "1").ok());
}

TEST_F(WebSocketServerTest, OverlongIdsAreRefused) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call(std::string(300, 'i'), "kei.test.v1.EchoService/Echo", "{}")).ok());
  auto error = client->ReadType("error");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->frame.code(), "invalid_argument");
  EXPECT_THAT(error->frame.message(), HasSubstr("id: at most 256 bytes"));
}

TEST_F(WebSocketServerTest, ShutdownClosesWith1001) {
  auto client = MustConnect(t_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Call("b", "kei.test.v1.EchoService/Chat", "")).ok());
  std::thread stopper([this] { t_.server->Shutdown(absl::Seconds(2)); });
  absl::StatusOr<std::string> read;
  do {
    read = client->ReadRaw(absl::Seconds(10));
  } while (read.ok());
  stopper.join();
  EXPECT_EQ(client->close_code(), 1001);
}

}  // namespace
}  // namespace kei::testing
