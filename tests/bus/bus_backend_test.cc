// The bus backend contract (bus/backend.h, docs/bus.md), run against every
// backend: the embedded broker in memory, the embedded broker on its durable
// log, and NATS JetStream on a real nats-server. Whatever a test here checks
// holds whichever engine keid is configured with.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bus/backend.h"
#include "bus/embedded_broker.h"
#include "bus/log/file_log.h"
#include "bus/log/memory_log.h"
#include "bus/nats/nats_backend.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "tests/bus/bus_test_util.h"
#include "tests/support/nats_server.h"

namespace kei::bus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ScratchDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  static int counter = 0;
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, "-", ++counter, "-", getpid());
}

// A backend under test that can be restarted with its state.
class BackendHarness {
 public:
  virtual ~BackendHarness() = default;
  virtual Backend& backend() = 0;
  // Stops and starts the backend, keeping what it persists.
  virtual absl::Status Restart() = 0;
  virtual bool durable() const = 0;
  // Whether it started.
  const absl::Status& status() const { return status_; }

 protected:
  absl::Status status_;
};

class EmbeddedHarness final : public BackendHarness {
 public:
  explicit EmbeddedHarness(bool durable) : durable_(durable), dir_(ScratchDir("bus")) {
    status_ = Open();
  }
  Backend& backend() override { return *broker_; }
  bool durable() const override { return durable_; }
  absl::Status Restart() override {
    broker_.reset();
    return Open();
  }
 private:
  absl::Status Open() {
    std::unique_ptr<MessageLog> log;
    EmbeddedBrokerOptions options;
    if (durable_) {
      FileLogOptions log_options;
      log_options.directory = dir_ + "/log";
      auto opened = FileLog::Open(log_options);
      if (!opened.ok()) return opened.status();
      log = *std::move(opened);
      options.state_directory = dir_;
    } else {
      log = std::make_unique<MemoryLog>();
    }
    auto broker = EmbeddedBroker::Open(std::move(log), options);
    if (!broker.ok()) return broker.status();
    broker_ = *std::move(broker);
    return absl::OkStatus();
  }

  const bool durable_;
  const std::string dir_;
  std::unique_ptr<EmbeddedBroker> broker_;
};

class NatsHarness final : public BackendHarness {
 public:
  NatsHarness() {
    auto server = testing::NatsServer::Start(/*jetstream=*/true, ScratchDir("nats"));
    if (!server.ok()) {
      status_ = server.status();
      return;
    }
    server_ = *std::move(server);
    status_ = Connect();
  }
  Backend& backend() override { return *backend_; }
  bool durable() const override { return true; }
  absl::Status Restart() override {
    backend_.reset();
    if (auto s = server_->Restart(); !s.ok()) return s;
    return Connect();
  }
 private:
  absl::Status Connect() {
    NatsBackendOptions options;
    options.url = server_->url();
    auto backend = NatsBackend::Connect(options);
    if (!backend.ok()) return backend.status();
    backend_ = *std::move(backend);
    return absl::OkStatus();
  }

  std::unique_ptr<testing::NatsServer> server_;
  std::unique_ptr<NatsBackend> backend_;
};

enum class Kind { kMemory, kDurable, kNats };

std::string KindName(const ::testing::TestParamInfo<Kind>& info) {
  switch (info.param) {
    case Kind::kMemory: return "EmbeddedMemory";
    case Kind::kDurable: return "EmbeddedDurable";
    case Kind::kNats: return "NatsJetStream";
  }
  return "Unknown";
}

using testing::Collect;
using testing::Payloads;
using testing::Text;

class BusBackendTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kNats) {
      harness_ = std::make_unique<NatsHarness>();
    } else {
      harness_ = std::make_unique<EmbeddedHarness>(GetParam() == Kind::kDurable);
    }
    ASSERT_TRUE(harness_->status().ok()) << harness_->status();
  }
  Backend& bus() { return harness_->backend(); }

  std::unique_ptr<Subscription> Sub(const std::string& pattern, StartPosition start = {}) {
    return testing::MustSubscribe(bus(), pattern, start);
  }
  std::unique_ptr<Subscription> Group(const std::string& pattern, const std::string& group,
                                      GroupOptions options = {}, StartPosition start = {}) {
    return testing::MustSubscribe(bus(), pattern, start, group, options);
  }
  uint64_t Pub(const std::string& topic, absl::string_view text) {
    return testing::MustPublish(bus(), topic, text);
  }

  std::unique_ptr<BackendHarness> harness_;
};

TEST_P(BusBackendTest, EphemeralSubscribersGetNewMessagesInOrder) {
  Pub("orders.created", "before");
  auto a = Sub("orders.created");
  auto b = Sub("orders.created");
  ASSERT_TRUE(a && b);
  uint64_t s1 = Pub("orders.created", "one");
  uint64_t s2 = Pub("orders.created", "two");
  uint64_t s3 = Pub("orders.created", "three");
  EXPECT_LT(s1, s2);
  EXPECT_LT(s2, s3);
  for (auto* sub : {a.get(), b.get()}) {
    auto got = Collect(*sub, 3);
    EXPECT_THAT(Payloads(got), ElementsAre("one", "two", "three"));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].message->sequence, s1);
    EXPECT_EQ(got[0].message->topic, "orders.created");
    EXPECT_TRUE(got[0].ack_id.empty());
  }
}

TEST_P(BusBackendTest, WildcardsRouteByToken) {
  auto star = Sub("agent.*.events");
  auto tail = Sub("agent.>");
  auto exact = Sub("agent.x.events");
  ASSERT_TRUE(star && tail && exact);
  Pub("agent.x.events", "x");
  Pub("agent.y.events", "y");
  Pub("agent.x.y.events", "xy");
  Pub("agent.x", "bare");
  Pub("other.x.events", "other");
  Pub("agent.z.events", "end");
  EXPECT_THAT(Payloads(Collect(*star, 3)), ElementsAre("x", "y", "end"));
  EXPECT_THAT(Payloads(Collect(*tail, 5)), ElementsAre("x", "y", "xy", "bare", "end"));
  EXPECT_THAT(Payloads(Collect(*exact, 1)), ElementsAre("x"));
  // Nothing more arrives for the exact subscriber.
  EXPECT_TRUE(Collect(*exact, 1, absl::Milliseconds(200)).empty());
}

TEST_P(BusBackendTest, StartPositionsReplayRetainedMessages) {
  uint64_t first = Pub("replay.t", "a");
  Pub("replay.t", "b");
  absl::SleepFor(absl::Milliseconds(20));
  absl::Time middle = absl::Now();
  absl::SleepFor(absl::Milliseconds(20));
  uint64_t third = Pub("replay.t", "c");

  StartPosition all;
  all.kind = StartPosition::Kind::kAll;
  auto from_all = Sub("replay.t", all);
  StartPosition seq;
  seq.kind = StartPosition::Kind::kSequence;
  seq.sequence = third;
  auto from_seq = Sub("replay.t", seq);
  StartPosition time;
  time.kind = StartPosition::Kind::kTime;
  time.time = middle;
  auto from_time = Sub("replay.t", time);
  ASSERT_TRUE(from_all && from_seq && from_time);
  Pub("replay.t", "d");
  EXPECT_THAT(Payloads(Collect(*from_all, 4)), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(Payloads(Collect(*from_seq, 2)), ElementsAre("c", "d"));
  EXPECT_THAT(Payloads(Collect(*from_time, 2)), ElementsAre("c", "d"));
  EXPECT_GT(third, first);
}

TEST_P(BusBackendTest, GroupMembersCompeteAndEachMessageGoesToOne) {
  auto m1 = Group("jobs.>", "workers");
  auto m2 = Group("jobs.>", "workers");
  ASSERT_TRUE(m1 && m2);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) Pub("jobs.render", absl::StrCat(i));
  std::multiset<std::string> seen;
  size_t from_m1 = 0, from_m2 = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (seen.size() < kCount && absl::Now() < deadline) {
    for (auto* m : {m1.get(), m2.get()}) {
      auto next = m->Next(16, absl::Now() + absl::Milliseconds(20));
      ASSERT_TRUE(next.ok()) << next.status();
      for (const Delivery& d : *next) {
        seen.insert(d.message->envelope().binary_data());
        EXPECT_FALSE(d.ack_id.empty());
        EXPECT_EQ(d.attempt, 1u);
        ASSERT_TRUE(bus().Ack(d.ack_id).ok());
        (m == m1.get() ? from_m1 : from_m2)++;
      }
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(seen.count(absl::StrCat(i)), 1u) << i;
  EXPECT_GT(from_m1, 0u);
  EXPECT_GT(from_m2, 0u);
  // Acknowledged: nothing comes back.
  EXPECT_TRUE(Collect(*m1, 1, absl::Milliseconds(300)).empty());
}

TEST_P(BusBackendTest, MissedAckDeadlineRedelivers) {
  GroupOptions options;
  options.ack_wait = absl::Milliseconds(300);
  auto m = Group("tasks.a", "slow", options);
  ASSERT_TRUE(m);
  Pub("tasks.a", "work");
  auto first = Collect(*m, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt, 1u);
  absl::Time delivered = absl::Now();
  auto again = Collect(*m, 1, absl::Seconds(5));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GE(absl::Now() - delivered, absl::Milliseconds(250));
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(again[0].message->sequence, first[0].message->sequence);
  ASSERT_TRUE(bus().Ack(again[0].ack_id).ok());
  EXPECT_TRUE(Collect(*m, 1, absl::Milliseconds(600)).empty());
}

TEST_P(BusBackendTest, NackRedeliversAfterTheDelay) {
  auto m = Group("tasks.b", "nackers");
  ASSERT_TRUE(m);
  Pub("tasks.b", "retry me");
  auto first = Collect(*m, 1);
  ASSERT_EQ(first.size(), 1u);
  absl::Time nacked = absl::Now();
  ASSERT_TRUE(bus().Nack(first[0].ack_id, absl::Milliseconds(300)).ok());
  auto again = Collect(*m, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GE(absl::Now() - nacked, absl::Milliseconds(250));
  EXPECT_EQ(again[0].attempt, 2u);
  ASSERT_TRUE(bus().Ack(again[0].ack_id).ok());
}

TEST_P(BusBackendTest, MaxDeliveriesSendsToTheDeadLetterTopic) {
  auto dead = Sub("deadletter.poison");
  GroupOptions options;
  options.ack_wait = absl::Milliseconds(200);
  options.max_deliveries = 2;
  auto m = Group("tasks.c", "poison", options);
  ASSERT_TRUE(dead && m);
  Pub("tasks.c", "bad");
  std::vector<uint32_t> attempts;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<Delivery> dead_letters;
  while (dead_letters.empty() && absl::Now() < deadline) {
    auto next = m->Next(1, absl::Now() + absl::Milliseconds(50));
    ASSERT_TRUE(next.ok());
    for (const Delivery& d : *next) attempts.push_back(d.attempt);  // never acknowledged
    auto d = dead->Next(1, absl::Now() + absl::Milliseconds(50));
    ASSERT_TRUE(d.ok());
    for (Delivery& x : *d) dead_letters.push_back(std::move(x));
  }
  ASSERT_EQ(dead_letters.size(), 1u);
  EXPECT_THAT(attempts, ElementsAre(1, 2));
  EXPECT_EQ(dead_letters[0].message->envelope().binary_data(), "bad");
  EXPECT_EQ(dead_letters[0].message->topic, "deadletter.poison");
  EXPECT_EQ(dead_letters[0].message->envelope().extensions().at("keiorigtopic"), "tasks.c");
  // Dead-lettered counts as done for the group.
  EXPECT_TRUE(Collect(*m, 1, absl::Milliseconds(500)).empty());
}

TEST_P(BusBackendTest, PublishesAreDeduplicatedById) {
  auto sub = Sub("dedup.t");
  ASSERT_TRUE(sub);
  v1::Envelope e = Text("once");
  e.set_id("fixed-id-1");
  auto first = bus().Publish("dedup.t", e);
  auto second = bus().Publish("dedup.t", e);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(first->duplicate);
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(first->sequence, second->sequence);
  EXPECT_EQ(second->id, "fixed-id-1");
  Pub("dedup.t", "next");
  EXPECT_THAT(Payloads(Collect(*sub, 3, absl::Seconds(2))), ElementsAre("once", "next"));
}

TEST_P(BusBackendTest, BatchesPublishInOrderWithAnOutcomeEach) {
  auto sub = Sub("batch.>");
  ASSERT_TRUE(sub);
  v1::Envelope repeated = Text("same");
  repeated.set_id("batch-dup");
  std::vector<std::pair<std::string, v1::Envelope>> batch;
  batch.emplace_back("batch.a", Text("1"));
  batch.emplace_back("bad topic", Text("x"));
  batch.emplace_back("batch.b", repeated);
  batch.emplace_back("batch.b", repeated);
  batch.emplace_back("batch.a", Text("2"));
  auto results = bus().PublishBatch(std::move(batch));
  ASSERT_EQ(results.size(), 5u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(results[2].ok() && results[3].ok() && results[4].ok());
  EXPECT_FALSE(results[2]->duplicate);
  EXPECT_TRUE(results[3]->duplicate);
  EXPECT_EQ(results[2]->sequence, results[3]->sequence);
  EXPECT_LT(results[0]->sequence, results[2]->sequence);
  EXPECT_LT(results[2]->sequence, results[4]->sequence);
  EXPECT_THAT(Payloads(Collect(*sub, 4, absl::Seconds(2))), ElementsAre("1", "same", "2"));
}

TEST_P(BusBackendTest, PublishFillsIdAndTime) {
  auto sub = Sub("fill.t");
  ASSERT_TRUE(sub);
  auto r = bus().Publish("fill.t", Text("x"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id.size(), 36u);
  auto got = Collect(*sub, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message->envelope().id(), r->id);
  EXPECT_GT(got[0].message->envelope().time().seconds(), 0);
}

TEST_P(BusBackendTest, EnvelopeRoundTrips) {
  auto sub = Sub("envelope.t");
  ASSERT_TRUE(sub);
  v1::Envelope e;
  e.set_id("id-42");
  e.set_source("kei://agent/planner");
  e.set_type("dev.kei.agent.message");
  e.set_subject("plan-7");
  e.mutable_time()->set_seconds(1767225600);
  e.mutable_time()->set_nanos(123000000);
  e.set_datacontenttype("application/protobuf");
  e.set_dataschema("https://kei.dev/schemas/value");
  e.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  e.set_tracestate("kei=1");
  google::protobuf::Value value;
  value.set_string_value("hello");
  e.mutable_proto_data()->PackFrom(value);
  (*e.mutable_extensions())["tenant"] = "acme";
  ASSERT_TRUE(bus().Publish("envelope.t", e).ok());
  auto got = Collect(*sub, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message->envelope().DebugString(), e.DebugString());
}

TEST_P(BusBackendTest, RequestGetsTheFirstReply) {
  auto responder = Sub("svc.echo");
  ASSERT_TRUE(responder);
  std::thread serve([&] {
    auto got = Collect(*responder, 1);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_FALSE(got[0].message->reply_to.empty());
    EXPECT_EQ(got[0].message->topic, "svc.echo");
    v1::Envelope reply = Text(absl::StrCat("echo: ", got[0].message->envelope().binary_data()));
    ASSERT_TRUE(bus().Publish(got[0].message->reply_to, reply).ok());
  });
  auto reply = bus().Request("svc.echo", Text("ping"), absl::Now() + absl::Seconds(5));
  serve.join();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ((*reply)->envelope().binary_data(), "echo: ping");
}

TEST_P(BusBackendTest, RequestGoesToOneMemberOfAGroup) {
  auto m1 = Group("svc.work", "pool");
  auto m2 = Group("svc.work", "pool");
  ASSERT_TRUE(m1 && m2);
  std::atomic<int> served{0};
  auto serve = [&](Subscription* m) {
    absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (absl::Now() < deadline) {
      auto next = m->Next(1, absl::Now() + absl::Milliseconds(50));
      if (!next.ok()) return;
      for (const Delivery& d : *next) {
        if (d.message->reply_to.empty()) continue;
        ++served;
        (void)bus().Publish(d.message->reply_to, Text("done"));
      }
    }
  };
  std::thread t1(serve, m1.get()), t2(serve, m2.get());
  auto reply = bus().Request("svc.work", Text("job"), absl::Now() + absl::Seconds(2));
  t1.join();
  t2.join();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(served.load(), 1);
}

TEST_P(BusBackendTest, RequestWithoutRespondersIsUnavailable) {
  auto reply = bus().Request("svc.nobody", Text("hello?"), absl::Now() + absl::Seconds(2));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("no responders"));
}

TEST_P(BusBackendTest, RequestNobodyAnswersTimesOut) {
  auto silent = Sub("svc.silent");
  ASSERT_TRUE(silent);
  absl::Time start = absl::Now();
  auto reply = bus().Request("svc.silent", Text("hello?"), absl::Now() + absl::Milliseconds(300));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_P(BusBackendTest, BadInputIsInvalidArgument) {
  for (const char* topic : {"", "a..b", ".a", "a.", "a.*", "a.>", "a b", "a/b"}) {
    auto r = bus().Publish(topic, Text("x"));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "'" << topic << "'";
  }
  for (const char* pattern : {"", "a.>.b", "a..b", "a.*x"}) {
    SubscribeSpec spec;
    spec.pattern = pattern;
    EXPECT_EQ(bus().Subscribe(spec).status().code(), absl::StatusCode::kInvalidArgument)
        << pattern;
  }
  SubscribeSpec bad_group;
  bad_group.pattern = "a.b";
  bad_group.group = "no spaces";
  EXPECT_EQ(bus().Subscribe(bad_group).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus().Ack("not an ack id").code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(BusBackendTest, AGroupKeepsItsPattern) {
  auto m = Group("billing.>", "billing");
  ASSERT_TRUE(m);
  SubscribeSpec other;
  other.pattern = "shipping.>";
  other.group = "billing";
  EXPECT_EQ(bus().Subscribe(other).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(BusBackendTest, ClosedMembersWorkGoesToTheOthers) {
  GroupOptions options;
  options.ack_wait = absl::Seconds(30);
  auto m1 = Group("handoff.t", "handoff", options);
  auto m2 = Group("handoff.t", "handoff", options);
  ASSERT_TRUE(m1 && m2);
  Pub("handoff.t", "job");
  auto got = Collect(*m1, 1);
  ASSERT_EQ(got.size(), 1u);
  m1->Close();
  auto next = m1->Next(1, absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(next.status().code(), absl::StatusCode::kCancelled);
  m1.reset();
  auto again = Collect(*m2, 1, absl::Seconds(5));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message->envelope().binary_data(), "job");
}

TEST_P(BusBackendTest, CloseWakesABlockedNext) {
  auto sub = Sub("wake.t");
  ASSERT_TRUE(sub);
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(100));
    sub->Close();
  });
  absl::Time start = absl::Now();
  auto next = sub->Next(1, absl::Now() + absl::Seconds(10));
  closer.join();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_P(BusBackendTest, GroupPositionsSurviveARestart) {
  if (!harness_->durable()) GTEST_SKIP() << "the memory mode keeps nothing across restarts";
  {
    auto m = Group("durable.t", "keeper");
    ASSERT_TRUE(m);
    for (int i = 0; i < 10; ++i) Pub("durable.t", absl::StrCat(i));
    auto got = Collect(*m, 4);
    ASSERT_EQ(got.size(), 4u);
    for (const Delivery& d : got) ASSERT_TRUE(bus().Ack(d.ack_id).ok());
  }
  ASSERT_TRUE(harness_->Restart().ok());
  auto m = Group("durable.t", "keeper");
  ASSERT_TRUE(m);
  auto rest = Collect(*m, 6);
  EXPECT_THAT(Payloads(rest), ElementsAre("4", "5", "6", "7", "8", "9"));
  // The log kept the messages too.
  StartPosition all;
  all.kind = StartPosition::Kind::kAll;
  auto replay = Sub("durable.t", all);
  ASSERT_TRUE(replay);
  EXPECT_EQ(Collect(*replay, 10).size(), 10u);
}

INSTANTIATE_TEST_SUITE_P(Backends, BusBackendTest,
                         ::testing::Values(Kind::kMemory, Kind::kDurable, Kind::kNats), KindName);

}  // namespace
}  // namespace kei::bus
