// KEIBusClient and `keictl bus` logic over a scripted in-memory Transport:
// envelope filling and retry safety per method, options to SubscribeRequest,
// the subscription's marker wait, buffer bound, end statuses and auto-ack,
// and how keictl parses bus commands and prints deliveries.
#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/bus/kei_bus_client.h"
#include "tools/keictl/bus_command.h"

namespace kei {
namespace {

using bus::v1::Delivery;
using bus::v1::SubscribeResponse;

// One scripted server stream: these responses, then `end` (or, when
// `hold_open`, nothing until cancelled).
struct StreamScript {
  std::vector<SubscribeResponse> responses;
  bool hold_open = true;
  absl::Status end;
};

struct StreamState {
  absl::Mutex mu;
  StreamScript script;
  bus::v1::SubscribeRequest request;
  size_t reads = 0;
  bool cancelled = false;
};

class FakeStream final : public ClientStream {
 public:
  explicit FakeStream(std::shared_ptr<StreamState> state) : state_(std::move(state)) {}
  bool Write(const google::protobuf::Message& message) override {
    absl::MutexLock lock(&state_->mu);
    state_->request.CopyFrom(message);
    return true;
  }
  bool CloseSend() override { return true; }
  bool Read(google::protobuf::Message* message) override {
    absl::MutexLock lock(&state_->mu);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
      return state_->cancelled || state_->reads < state_->script.responses.size() ||
             !state_->script.hold_open;
    };
    state_->mu.Await(absl::Condition(&ready));
    if (state_->cancelled || state_->reads == state_->script.responses.size()) return false;
    message->CopyFrom(state_->script.responses[state_->reads++]);
    return true;
  }
  absl::Status Finish() override {
    absl::MutexLock lock(&state_->mu);
    return state_->cancelled ? absl::CancelledError("cancelled") : state_->script.end;
  }
  void Cancel() override {
    absl::MutexLock lock(&state_->mu);
    state_->cancelled = true;
  }

 private:
  std::shared_ptr<StreamState> state_;
};

struct UnaryCall {
  std::string method;
  std::string request;  // serialized
  absl::Time deadline;
  bool idempotent_set = false;
  bool idempotent = false;
};

// Unary calls answer with scripted outcomes per method (then OK with an
// empty response); streams play StreamScripts in order.
class FakeTransport final : public Transport {
 public:
  Protocol protocol() const override { return Protocol::kGrpc; }
  std::string target() const override { return "fake"; }

  AttemptOutcome Unary(const MethodInfo& method, const google::protobuf::Message& request,
                       google::protobuf::Message* response, const CallOptions& options) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({method.method_name, request.SerializeAsString(), options.EffectiveDeadline(),
                      options.idempotent.has_value(), options.idempotent.value_or(false)});
    auto& queue = outcomes_[method.method_name];
    if (queue.empty()) return AttemptOutcome{};
    auto [outcome, bytes] = queue.front();
    queue.pop_front();
    response->ParseFromString(bytes);
    return outcome;
  }

  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(const MethodInfo&,
                                                           const CallOptions&) override {
    absl::MutexLock lock(&mu_);
    auto state = std::make_shared<StreamState>();
    if (!scripts_.empty()) {
      state->script = scripts_.front();
      scripts_.pop_front();
    }
    streams_.push_back(state);
    return std::unique_ptr<ClientStream>(new FakeStream(state));
  }

  void Answer(const std::string& method, absl::Status status,
              const google::protobuf::Message* response = nullptr, bool reached_server = true) {
    absl::MutexLock lock(&mu_);
    AttemptOutcome outcome;
    outcome.status = std::move(status);
    outcome.reached_server = reached_server;
    outcomes_[method].emplace_back(outcome, response ? response->SerializeAsString() : "");
  }
  void Script(StreamScript script) {
    absl::MutexLock lock(&mu_);
    scripts_.push_back(std::move(script));
  }
  std::vector<UnaryCall> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<std::shared_ptr<StreamState>> streams() {
    absl::MutexLock lock(&mu_);
    return streams_;
  }

 private:
  absl::Mutex mu_;
  std::vector<UnaryCall> calls_;
  std::map<std::string, std::deque<std::pair<AttemptOutcome, std::string>>> outcomes_;
  std::deque<StreamScript> scripts_;
  std::vector<std::shared_ptr<StreamState>> streams_;
};

template <class Request>
Request Parsed(const UnaryCall& call) {
  Request request;
  EXPECT_TRUE(request.ParseFromString(call.request));
  return request;
}

RetryPolicy FastRetry() {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(1);
  return policy;
}

SubscribeResponse Marker(uint64_t last_sequence) {
  SubscribeResponse response;
  response.set_subscribed(true);
  response.set_last_sequence(last_sequence);
  return response;
}

SubscribeResponse Deliveries(std::vector<std::pair<uint64_t, std::string>> sequence_and_ack_id) {
  SubscribeResponse response;
  for (const auto& [sequence, ack_id] : sequence_and_ack_id) {
    Delivery* delivery = response.add_deliveries();
    delivery->set_topic("orders.created");
    delivery->set_sequence(sequence);
    delivery->set_ack_id(ack_id);
  }
  return response;
}

class BusClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeTransport> transport_ = std::make_shared<FakeTransport>();
  KEIBusClient client_{transport_, FastRetry()};
};

TEST_F(BusClientTest, PublishFillsTheIdOnceAndRetriesWithIt) {
  bus::v1::PublishResponse answer;
  answer.set_sequence(9);
  transport_->Answer("Publish", absl::UnavailableError("reset"));
  transport_->Answer("Publish", absl::OkStatus(), &answer);
  auto published = client_.Publish("orders.created", DataEnvelope("{}", "application/json"));
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->sequence(), 9u);
  auto calls = transport_->calls();
  ASSERT_EQ(calls.size(), 2u);
  auto first = Parsed<bus::v1::PublishRequest>(calls[0]);
  auto second = Parsed<bus::v1::PublishRequest>(calls[1]);
  EXPECT_EQ(first.topic(), "orders.created");
  EXPECT_EQ(first.envelope().id().size(), 36u);
  EXPECT_EQ(first.envelope().id()[14], '4');  // UUID version 4
  EXPECT_TRUE(first.envelope().has_time());
  EXPECT_EQ(first.envelope().id(), second.envelope().id());
  EXPECT_TRUE(calls[0].idempotent);
}

TEST_F(BusClientTest, PublishKeepsTheCallersIdAndPacksMessages) {
  bus::v1::Envelope envelope;
  envelope.set_id("my-id");
  ASSERT_TRUE(client_.Publish("a", envelope).ok());
  bus::v1::AckRequest payload;
  payload.add_ack_ids("x");
  ASSERT_TRUE(client_.Publish("b", payload).ok());
  auto calls = transport_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(Parsed<bus::v1::PublishRequest>(calls[0]).envelope().id(), "my-id");
  auto packed = Parsed<bus::v1::PublishRequest>(calls[1]).envelope();
  EXPECT_EQ(packed.datacontenttype(), "application/protobuf");
  EXPECT_EQ(packed.type(), "kei.bus.v1.AckRequest");
  bus::v1::AckRequest unpacked;
  ASSERT_TRUE(packed.proto_data().UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.ack_ids(0), "x");
}

TEST_F(BusClientTest, RequestIsNeverResentOnceItMayHaveReachedTheServer) {
  transport_->Answer("Request", absl::UnavailableError("no responders"));
  transport_->Answer("Request", absl::DeadlineExceededError("no reply"));
  absl::Time before = absl::Now();
  EXPECT_EQ(client_.Request("svc.echo", {}, absl::Seconds(2)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client_.Request("svc.echo", {}, absl::Seconds(2)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  auto calls = transport_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_FALSE(calls[0].idempotent);
  EXPECT_GE(calls[0].deadline, before + absl::Seconds(2));
  EXPECT_LE(calls[0].deadline, absl::Now() + absl::Seconds(2));

  // One that never left the client is safe to send again.
  Delivery reply;
  reply.set_topic("_INBOX.1");
  bus::v1::RequestResponse answer;
  *answer.mutable_reply() = reply;
  transport_->Answer("Request", absl::UnavailableError("refused"), nullptr, false);
  transport_->Answer("Request", absl::OkStatus(), &answer);
  auto got = client_.Request("svc.echo", {}, absl::Seconds(2));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->topic(), "_INBOX.1");
}

TEST_F(BusClientTest, AckNackAndReply) {
  transport_->Answer("Ack", absl::UnavailableError("reset"));
  ASSERT_TRUE(client_.Ack({"a1", "a2"}).ok());
  ASSERT_TRUE(client_.Nack({"a1"}).ok());
  ASSERT_TRUE(client_.Nack({"a2"}, absl::Seconds(2)).ok());
  EXPECT_EQ(client_.Ack(Delivery{}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_.Reply(Delivery{}, {}).code(), absl::StatusCode::kFailedPrecondition);
  Delivery request;
  request.set_reply_to("_INBOX.7");
  ASSERT_TRUE(client_.Reply(request, {}).ok());

  auto calls = transport_->calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[1].method, "Ack");  // retried
  EXPECT_EQ(Parsed<bus::v1::AckRequest>(calls[1]).ack_ids_size(), 2);
  EXPECT_FALSE(Parsed<bus::v1::NackRequest>(calls[2]).has_delay());
  EXPECT_EQ(Parsed<bus::v1::NackRequest>(calls[3]).delay().seconds(), 2);
  EXPECT_EQ(Parsed<bus::v1::PublishRequest>(calls[4]).topic(), "_INBOX.7");
}

TEST_F(BusClientTest, AgentMessagesGoToTheInbox) {
  client_.set_source("kei://agent/planner");
  bus::v1::AckRequest payload;
  ASSERT_TRUE(client_.SendAgentMessage("executor", "dev.kei.agent.task", payload).ok());
  ASSERT_TRUE(client_.SendAgentMessage("executor", "dev.kei.agent.note", R"({"n":1})").ok());
  EXPECT_EQ(client_.SendAgentMessage("a.b", "t", "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_.SendAgentMessage("a", "t", "{nope").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto calls = transport_->calls();
  ASSERT_EQ(calls.size(), 2u);
  auto proto = Parsed<bus::v1::PublishRequest>(calls[0]);
  EXPECT_EQ(proto.topic(), "agent.executor.inbox");
  EXPECT_EQ(proto.envelope().type(), "dev.kei.agent.task");
  EXPECT_EQ(proto.envelope().source(), "kei://agent/planner");
  EXPECT_TRUE(proto.envelope().has_proto_data());
  auto json = Parsed<bus::v1::PublishRequest>(calls[1]).envelope();
  EXPECT_EQ(json.datacontenttype(), "application/json");
  EXPECT_EQ(json.binary_data(), R"({"n":1})");
}

TEST_F(BusClientTest, SubscribeSendsTheOptionsAndWaitsForTheMarker) {
  transport_->Script({{Marker(7), Deliveries({{8, ""}, {9, ""}})}});
  SubscribeOptions options;
  options.group = "workers";
  options.ack_wait = absl::Seconds(3);
  options.max_deliveries = -1;
  options.backoff = {absl::Milliseconds(1500), absl::Seconds(2)};
  options.dead_letter_topic = "dlq";
  options.max_ack_pending = 1;
  options.StartAtSequence(5);
  auto subscription = client_.Subscribe("orders.*", options);
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  EXPECT_EQ((*subscription)->last_sequence(), 7u);

  auto request = transport_->streams()[0]->request;
  EXPECT_EQ(request.topic(), "orders.*");
  EXPECT_EQ(request.group(), "workers");
  EXPECT_EQ(request.start().sequence(), 5u);
  EXPECT_EQ(request.ack_wait().seconds(), 3);
  EXPECT_EQ(request.max_deliveries(), -1);
  ASSERT_EQ(request.backoff_size(), 2);
  EXPECT_EQ(request.backoff(0).seconds(), 1);
  EXPECT_EQ(request.backoff(0).nanos(), 500000000);
  EXPECT_EQ(request.dead_letter_topic(), "dlq");
  EXPECT_EQ(request.max_ack_pending(), 1u);

  for (uint64_t sequence : {8, 9}) {
    auto next = (*subscription)->Next(absl::Seconds(5));
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ((*next)->sequence(), sequence);
  }
  auto idle = (*subscription)->Next(absl::Milliseconds(20));
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(idle->has_value());
  (*subscription)->Close();
  EXPECT_EQ((*subscription)->Next().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ((*subscription)->Wait(absl::Seconds(5))->code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(transport_->streams()[0]->cancelled);
}

TEST_F(BusClientTest, AFullBufferStopsReading) {
  StreamScript script{{Marker(0)}};
  for (uint64_t i = 1; i <= 5; ++i) script.responses.push_back(Deliveries({{i, ""}}));
  transport_->Script(script);
  SubscribeOptions options;
  options.buffer = 2;
  auto subscription = client_.Subscribe("t", options);
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  auto& state = *transport_->streams()[0];
  // Waits until `n` responses were read, then a little longer for any more.
  auto reads_after = [&state](size_t n) {
    {
      absl::MutexLock lock(&state.mu);
      auto enough = [&state, n] { return state.reads >= n; };
      state.mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(5));
    }
    absl::SleepFor(absl::Milliseconds(50));
    absl::MutexLock lock(&state.mu);
    return state.reads;
  };
  EXPECT_EQ(reads_after(3), 3u);  // the marker and two deliveries
  ASSERT_TRUE((*subscription)->Next(absl::Seconds(5)).ok());
  EXPECT_EQ(reads_after(4), 4u);
}

TEST_F(BusClientTest, TheStreamsEndStatusFollowsTheDeliveries) {
  transport_->Script({{Marker(0), Deliveries({{1, ""}})}, false, absl::InternalError("boom")});
  auto subscription = client_.Subscribe("t", {});
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  auto first = (*subscription)->Next(absl::Seconds(5));
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*subscription)->Next(absl::Seconds(5)).status().code(), absl::StatusCode::kInternal);
}

TEST_F(BusClientTest, OpeningIsRetriedUntilConfirmedAndBounded) {
  transport_->Script({{}, false, absl::UnavailableError("not yet")});
  transport_->Script({{Marker(3)}});
  auto subscription = client_.Subscribe("t", {});
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  EXPECT_EQ(transport_->streams().size(), 2u);

  transport_->Script({{}});  // never confirms
  SubscribeOptions options;
  options.subscribe_timeout = absl::Milliseconds(30);
  EXPECT_EQ(client_.Subscribe("t", options).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(transport_->streams()[2]->cancelled);
}

TEST_F(BusClientTest, HandlersRunInOrderAndAutoAck) {
  transport_->Script({{Marker(0), Deliveries({{1, "a1"}, {2, ""}, {3, "a3"}})}});
  SubscribeOptions options;
  options.auto_ack = true;
  EXPECT_EQ(client_.Subscribe("t", options).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Mutex mu;
  std::vector<uint64_t> seen;
  auto subscription = client_.Subscribe("t", options, [&](const Delivery& delivery) {
    absl::MutexLock lock(&mu);
    seen.push_back(delivery.sequence());
    if (delivery.sequence() == 3) throw std::runtime_error("handler failed");
  });
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  {
    absl::MutexLock lock(&mu);
    auto all = [&seen] { return seen.size() == 3; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(5)));
    EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
  }
  (*subscription)->Close();
  EXPECT_EQ((*subscription)->Wait()->code(), absl::StatusCode::kCancelled);
  EXPECT_EQ((*subscription)->handler_errors(), 1u);
  EXPECT_EQ((*subscription)->Next().status().code(), absl::StatusCode::kFailedPrecondition);
  auto calls = transport_->calls();
  ASSERT_EQ(calls.size(), 1u);  // a1 only: 2 is not a group delivery, 3's handler threw
  EXPECT_EQ(Parsed<bus::v1::AckRequest>(calls[0]).ack_ids(0), "a1");
}

// ---- keictl bus ------------------------------------------------------------------

TEST(KeictlBusTest, ParsesCommands) {
  auto pub = keictl::ParseBusCommand({"pub", "grpc://h:1", "t", R"({"a":1})"},
                                     {{"--type", "dev.x"}, {"--id", "i1"}}, std::nullopt);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->envelope.datacontenttype(), "application/json");
  EXPECT_EQ(pub->envelope.type(), "dev.x");
  EXPECT_EQ(pub->envelope.id(), "i1");
  auto text = keictl::ParseBusCommand({"request", "ws://h:1", "t", "hello"}, {}, std::nullopt);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->envelope.datacontenttype(), "text/plain");

  auto sub = keictl::ParseBusCommand({"sub", "grpc://h:1", "t.>"},
                                     {{"--group", "g"}, {"--from", "2024-05-01T10:00:00Z"},
                                      {"--count", "2"}, {"--no-ack", ""}},
                                     absl::Milliseconds(500));
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->subscribe.group, "g");
  EXPECT_EQ(sub->subscribe.start.time().seconds(), 1714557600);
  EXPECT_EQ(sub->count, 2);
  EXPECT_FALSE(sub->ack);
  EXPECT_EQ(sub->idle_timeout, absl::Milliseconds(500));
  auto all = keictl::ParseBusCommand({"sub", "u", "t"}, {{"--from", "all"}}, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->subscribe.start.all());
  EXPECT_EQ(all->idle_timeout, absl::InfiniteDuration());

  EXPECT_FALSE(keictl::ParseBusCommand({"sub", "u", "t"}, {{"--from", "soon"}}, {}).ok());
  EXPECT_FALSE(keictl::ParseBusCommand({"pub", "u", "t", "d"}, {{"--group", "g"}}, {}).ok());
  EXPECT_FALSE(keictl::ParseBusCommand({"sub", "u"}, {}, {}).ok());
  EXPECT_FALSE(keictl::ParseBusCommand({"peek", "u", "t"}, {}, {}).ok());
}

TEST(KeictlBusTest, PrintsDeliveriesAsCloudEventsJson) {
  Delivery delivery;
  delivery.set_topic("t");
  delivery.set_sequence(4);
  delivery.set_attempt(1);
  auto& envelope = *delivery.mutable_envelope();
  envelope.set_id("i");
  envelope.set_type("dev.x");
  envelope.mutable_time()->set_seconds(1714557600);
  envelope.set_datacontenttype("application/json; charset=utf-8");
  envelope.set_binary_data(R"({"a":[1,2]})");
  EXPECT_EQ(keictl::DeliveryJson(delivery).dump(),
            R"({"topic":"t","sequence":4,"id":"i","source":"","type":"dev.x",)"
            R"("time":"2024-05-01T10:00:00Z","attempt":1,)"
            R"("datacontenttype":"application/json; charset=utf-8","data":{"a":[1,2]}})");

  envelope.set_datacontenttype("text/plain");
  envelope.set_binary_data("hi");
  EXPECT_EQ(keictl::DeliveryJson(delivery)["data"], "hi");
  envelope.set_datacontenttype("application/octet-stream");
  envelope.set_binary_data(std::string("\x00\xff", 2));
  EXPECT_EQ(keictl::DeliveryJson(delivery)["data_base64"], "AP8=");
  bus::v1::AckRequest payload;
  payload.add_ack_ids("x");
  envelope = ProtoEnvelope(payload);
  EXPECT_EQ(keictl::DeliveryJson(delivery)["data"]["ackIds"][0], "x");
}

TEST(KeictlBusTest, SubPrintsAcksAndEndsOnTheIdleTimeout) {
  auto transport = std::make_shared<FakeTransport>();
  KEIBusClient client(transport, RetryPolicy::None());
  transport->Script({{Marker(0), Deliveries({{1, "a1"}, {2, "a2"}})}});
  auto command = keictl::ParseBusCommand({"sub", "u", "orders.>"}, {{"--group", "g"}},
                                         absl::Milliseconds(200));
  ASSERT_TRUE(command.ok());
  std::ostringstream out;
  ASSERT_TRUE(keictl::RunBusCommand(client, *command, {}, out).ok());
  std::string printed = out.str();
  EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 2);
  EXPECT_EQ(transport->calls().size(), 2u);  // both acked

  transport->Script({{Marker(0)}});
  std::ostringstream none;
  EXPECT_EQ(keictl::RunBusCommand(client, *command, {}, none).code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace kei
