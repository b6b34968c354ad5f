// kei.bus.v1.Bus served by a real kei::Server over the embedded broker, called
// with KEIBusClient over gRPC and over the WebSocket frame protocol: publish,
// subscribe, groups with ack/nack, request/reply, errors on the wire, and the
// WebSocket topics seam (topic frames and kei.v1.Topics are bus topics).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bus/bus_service.h"
#include "bus/bus_topics.h"
#include "bus/embedded_broker.h"
#include "bus/log/memory_log.h"
#include "cc/server/server.h"
#include "clients/bus/bus_publisher.h"
#include "clients/bus/kei_bus_client.h"
#include "clients/stream/kei_stream_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "kei/bus/v1/bus.kei.h"

namespace kei {
namespace {

using ::testing::HasSubstr;

struct BusServer {
  std::shared_ptr<bus::Backend> backend;
  std::unique_ptr<Server> server;
};

BusServer StartBusServer() {
  BusServer t;
  auto broker = bus::EmbeddedBroker::Open(std::make_unique<bus::MemoryLog>());
  EXPECT_TRUE(broker.ok()) << broker.status();
  t.backend = std::shared_ptr<bus::Backend>(*std::move(broker));
  ServerOptions options;
  options.grpc_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  options.http.io_threads = 2;
  options.topics = std::make_shared<bus::BusTopics>(t.backend);
  t.server = std::make_unique<Server>(options);
  EXPECT_TRUE(
      t.server->AddService(bus::v1::BindBus(std::make_shared<bus::BusService>(t.backend))).ok());
  auto started = t.server->Start();
  EXPECT_TRUE(started.ok()) << started;
  return t;
}

class BusServiceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    t_ = StartBusServer();
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
  }
  void TearDown() override {
    client_.reset();
    t_.server->Shutdown(absl::Seconds(2));
    t_.server->Wait();
  }
  std::string Url() const {
    return GetParam() == "grpc" ? absl::StrCat("grpc://", t_.server->grpc_target())
                                : absl::StrCat("ws://", t_.server->http_target(), "/api/v1/stream");
  }
  std::unique_ptr<KEIBusClient> Connect() {
    auto client = KEIBusClient::Connect(Url());
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  BusServer t_;
  std::unique_ptr<KEIBusClient> client_;
};

TEST_P(BusServiceTest, PublishedMessagesReachSubscribers) {
  // Two subscribers: the server serializes the one stored envelope for both.
  auto sub = client_->Subscribe("orders.*", SubscribeOptions{});
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto other_client = Connect();
  ASSERT_NE(other_client, nullptr);
  auto other = other_client->Subscribe("orders.>", SubscribeOptions{});
  ASSERT_TRUE(other.ok()) << other.status();
  bus::v1::Envelope envelope = DataEnvelope("{\"n\":1}", "application/json");
  envelope.set_source("kei://test");
  (*envelope.mutable_extensions())["tenant"] = "t1";
  absl::Time before = absl::Now();
  auto published = client_->Publish("orders.created", envelope);
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_FALSE(published->duplicate());
  EXPECT_EQ(published->id().size(), 36u);
  for (BusSubscription* s : {sub->get(), other->get()}) {
    auto next = s->Next(absl::Seconds(5));
    ASSERT_TRUE(next.ok()) << next.status();
    ASSERT_TRUE(next->has_value());
    EXPECT_EQ((*next)->topic(), "orders.created");
    EXPECT_EQ((*next)->sequence(), published->sequence());
    EXPECT_EQ((*next)->envelope().id(), published->id());
    EXPECT_EQ((*next)->envelope().source(), "kei://test");
    EXPECT_EQ((*next)->envelope().extensions().at("tenant"), "t1");
    EXPECT_EQ((*next)->envelope().binary_data(), "{\"n\":1}");
    const auto& time = (*next)->publish_time();
    absl::Time published_at = absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
    EXPECT_GE(time.nanos(), 0);
    EXPECT_LT(time.nanos(), 1000000000);
    EXPECT_GE(published_at, before - absl::Seconds(1));
    EXPECT_LE(published_at, absl::Now());
  }
}

TEST_P(BusServiceTest, PublisherPipelinesInOrder) {
  auto sub = client_->Subscribe("pipeline.t", SubscribeOptions{});
  ASSERT_TRUE(sub.ok()) << sub.status();
  constexpr int kCount = 3000;
  std::atomic<int> acknowledged{0};
  {
    BusPublisherOptions options;
    options.max_batch = 100;
    options.max_pending = 500;
    BusPublisher publisher(*client_, options);
    for (int i = 0; i < kCount; ++i) {
      publisher.Publish("pipeline.t", DataEnvelope(absl::StrCat(i), "text/plain"),
                        [&](const absl::StatusOr<bus::v1::PublishResponse>& r) {
                          if (r.ok()) ++acknowledged;
                        });
    }
    std::string bad = publisher.Publish("bad topic", DataEnvelope("x", "text/plain"));
    publisher.Flush();
    EXPECT_EQ(publisher.failures(), 1u);
    EXPECT_EQ(bad.size(), 36u);
  }
  EXPECT_EQ(acknowledged.load(), kCount);
  uint64_t last = 0;
  for (int i = 0; i < kCount; ++i) {
    auto next = (*sub)->Next(absl::Seconds(5));
    ASSERT_TRUE(next.ok() && next->has_value()) << i;
    ASSERT_EQ((*next)->envelope().binary_data(), absl::StrCat(i));
    EXPECT_GT((*next)->sequence(), last);
    last = (*next)->sequence();
  }
}

// Batches stay under the transports' message limits (gRPC 4 MiB, WebSocket
// 1 MiB): 24 messages of 200 KiB queued at once still all get through.
TEST_P(BusServiceTest, PublisherBatchesLargeMessagesByBytes) {
  auto sub = client_->Subscribe("pipeline.large", SubscribeOptions{});
  ASSERT_TRUE(sub.ok()) << sub.status();
  constexpr int kCount = 24;
  const std::string payload(200 * 1024, 'x');
  {
    BusPublisher publisher(*client_);
    for (int i = 0; i < kCount; ++i) {
      publisher.Publish("pipeline.large", DataEnvelope(absl::StrCat(i, payload), "text/plain"));
    }
    publisher.Flush();
    EXPECT_EQ(publisher.failures(), 0u);
  }
  for (int i = 0; i < kCount; ++i) {
    auto next = (*sub)->Next(absl::Seconds(10));
    ASSERT_TRUE(next.ok() && next->has_value()) << i;
    ASSERT_EQ((*next)->envelope().binary_data(), absl::StrCat(i, payload));
  }
}

// Deliveries ready together are split into stream messages of about 512 KiB:
// 20 retained messages of 200 KiB, read at once by a subscriber starting at
// the first, fit no transport's message limit in one (WebSocket's is 1 MiB).
TEST_P(BusServiceTest, SubscriptionSplitsLargeBacklogs) {
  constexpr int kCount = 20;
  const std::string payload(200 * 1024, 'y');
  uint64_t first = 0;
  for (int i = 0; i < kCount; i += 2) {
    bus::v1::PublishBatchRequest batch;
    for (int j = i; j < i + 2; ++j) {
      auto* m = batch.add_messages();
      m->set_topic("backlog.large");
      *m->mutable_envelope() = DataEnvelope(absl::StrCat(j, payload), "text/plain");
    }
    auto published = client_->PublishBatch(std::move(batch));
    ASSERT_TRUE(published.ok()) << published.status();
    ASSERT_EQ(published->outcomes_size(), 2);
    if (i == 0) first = published->outcomes(0).response().sequence();
  }
  SubscribeOptions options;
  options.StartAtSequence(first);
  auto sub = client_->Subscribe("backlog.large", options);
  ASSERT_TRUE(sub.ok()) << sub.status();
  for (int i = 0; i < kCount; ++i) {
    auto next = (*sub)->Next(absl::Seconds(10));
    ASSERT_TRUE(next.ok() && next->has_value()) << i << " " << next.status();
    ASSERT_EQ((*next)->envelope().binary_data(), absl::StrCat(i, payload));
  }
}

// Timestamps before 1970 keep their nanoseconds in [0, 1e9).
TEST(DeliveryToProtoTest, PublishTimeBeforeTheEpoch) {
  auto message = bus::NewMessage();
  message->topic = "t";
  message->publish_time = absl::FromUnixNanos(-1);
  bus::v1::Delivery out;
  bus::DeliveryToProto(bus::Delivery{message, "", 1}, &out);
  EXPECT_EQ(out.publish_time().seconds(), -1);
  EXPECT_EQ(out.publish_time().nanos(), 999999999);
  message->publish_time = absl::FromUnixNanos(int64_t{1700000000} * 1000000000 + 5);
  bus::DeliveryToProto(bus::Delivery{message, "", 1}, &out);
  EXPECT_EQ(out.publish_time().seconds(), 1700000000);
  EXPECT_EQ(out.publish_time().nanos(), 5);
}

TEST_P(BusServiceTest, RetriedPublishIsDeduplicated) {
  bus::v1::Envelope e = DataEnvelope("x", "text/plain");
  e.set_id("retry-1");
  auto first = client_->Publish("dedup.t", e);
  auto second = client_->Publish("dedup.t", e);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(second->duplicate());
  EXPECT_EQ(first->sequence(), second->sequence());
}

TEST_P(BusServiceTest, GroupDeliveriesAreAckedAndNacked) {
  SubscribeOptions options;
  options.group = "workers";
  options.ack_wait = absl::Seconds(30);
  auto sub = client_->Subscribe("jobs.>", options);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(client_->Publish("jobs.a", DataEnvelope("one", "text/plain")).ok());
  auto first = (*sub)->Next(absl::Seconds(5));
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_FALSE((*first)->ack_id().empty());
  EXPECT_EQ((*first)->attempt(), 1u);
  ASSERT_TRUE(client_->Nack(**first, absl::Milliseconds(100)).ok());
  auto again = (*sub)->Next(absl::Seconds(5));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->attempt(), 2u);
  EXPECT_EQ((*again)->sequence(), (*first)->sequence());
  ASSERT_TRUE(client_->Ack(**again).ok());
  auto none = (*sub)->Next(absl::Milliseconds(400));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(BusServiceTest, RequestReply) {
  auto responder = client_->Subscribe(
      "svc.upper", SubscribeOptions{}, [this](const bus::v1::Delivery& request) {
        std::string text = request.envelope().binary_data();
        for (char& c : text) c = static_cast<char>(std::toupper(c));
        (void)client_->Reply(request, DataEnvelope(text, "text/plain"));
      });
  ASSERT_TRUE(responder.ok()) << responder.status();
  auto reply = client_->Request("svc.upper", DataEnvelope("hello", "text/plain"), absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->envelope().binary_data(), "HELLO");
}

TEST_P(BusServiceTest, RequestErrorsCarryTheirCodes) {
  auto none = client_->Request("svc.nobody", DataEnvelope("?", "text/plain"), absl::Seconds(2));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable) << none.status();
  EXPECT_THAT(none.status().message(), HasSubstr("no responders"));

  auto silent = client_->Subscribe("svc.silent", SubscribeOptions{});
  ASSERT_TRUE(silent.ok());
  auto late = client_->Request("svc.silent", DataEnvelope("?", "text/plain"),
                               absl::Milliseconds(300));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
}

TEST_P(BusServiceTest, BadInputIsInvalidArgumentOnTheWire) {
  auto bad = client_->Publish("no spaces allowed", DataEnvelope("x", "text/plain"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  auto pattern = client_->Subscribe("a.>.b", SubscribeOptions{});
  EXPECT_EQ(pattern.status().code(), absl::StatusCode::kInvalidArgument) << pattern.status();
  SubscribeOptions ephemeral_with_ack_wait;
  ephemeral_with_ack_wait.ack_wait = absl::Seconds(1);
  auto mixed = client_->Subscribe("a.b", ephemeral_with_ack_wait);
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument) << mixed.status();
  EXPECT_EQ(client_->Ack(std::vector<std::string>{"garbage"}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(BusServiceTest, AgentMessagesGoToTheAgentsInbox) {
  auto inbox = client_->Subscribe(AgentInboxTopic("planner"), SubscribeOptions{});
  ASSERT_TRUE(inbox.ok()) << inbox.status();
  google::protobuf::Value payload;
  payload.set_string_value("plan the trip");
  auto sent = client_->SendAgentMessage("planner", "dev.kei.agent.task", payload);
  ASSERT_TRUE(sent.ok()) << sent.status();
  auto got = (*inbox)->Next(absl::Seconds(5));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->topic(), "agent.planner.inbox");
  EXPECT_EQ((*got)->envelope().type(), "dev.kei.agent.task");
  google::protobuf::Value unpacked;
  ASSERT_TRUE((*got)->envelope().proto_data().UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.string_value(), "plan the trip");
}

INSTANTIATE_TEST_SUITE_P(Transports, BusServiceTest, ::testing::Values("grpc", "ws"),
                         [](const auto& info) { return info.param; });

// WebSocket topic frames are bus topics: what a KEIStreamClient publishes a
// bus subscriber sees, and the other way round, with the same sequences.
TEST(BusTopicsSeamTest, WebSocketTopicsAreBusTopics) {
  BusServer t = StartBusServer();
  std::string http = t.server->http_target();
  KEIStreamClient stream(absl::StrCat("ws://", http, "/api/v1/stream"));
  ASSERT_TRUE(stream.Connect().ok());
  auto bus_client = KEIBusClient::Connect(absl::StrCat("grpc://", t.server->grpc_target()));
  ASSERT_TRUE(bus_client.ok());

  absl::Mutex mu;
  std::vector<TopicEvent> events;
  auto ws_sub = stream.Subscribe("agent.*.events", [&](const TopicEvent& e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  });
  ASSERT_TRUE(ws_sub.ok()) << ws_sub.status();
  auto bus_sub = (*bus_client)->Subscribe("agent.x.events", SubscribeOptions{});
  ASSERT_TRUE(bus_sub.ok());

  auto from_bus = (*bus_client)->Publish("agent.x.events",
                                         DataEnvelope("{\"from\":\"bus\"}", "application/json"));
  ASSERT_TRUE(from_bus.ok());
  google::protobuf::Value value;
  value.set_string_value("from ws");
  auto from_ws = stream.Publish("agent.x.events", value);
  ASSERT_TRUE(from_ws.ok()) << from_ws.status();
  EXPECT_GT(*from_ws, from_bus->sequence());

  absl::MutexLock lock(&mu);
  auto two = [&] { return events.size() >= 2; };
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&two), absl::Seconds(5)));
  EXPECT_EQ(events[0].topic, "agent.x.events");
  EXPECT_EQ(events[0].sequence, from_bus->sequence());
  EXPECT_EQ(events[0].data.struct_value().fields().at("from").string_value(), "bus");
  EXPECT_EQ(events[1].data.string_value(), "from ws");

  auto first = (*bus_sub)->Next(absl::Seconds(5));
  auto second = (*bus_sub)->Next(absl::Seconds(5));
  ASSERT_TRUE(first.ok() && first->has_value() && second.ok() && second->has_value());
  EXPECT_EQ((*second)->sequence(), *from_ws);
  EXPECT_EQ((*second)->envelope().datacontenttype(), "application/json");
  EXPECT_EQ((*second)->envelope().binary_data(), "\"from ws\"");
  stream.Disconnect();
  t.server->Shutdown(absl::Seconds(2));
  t.server->Wait();
}

}  // namespace
}  // namespace kei
