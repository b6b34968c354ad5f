// Smoke test of the NATS JetStream bus backend against a real nats-server: the
// CloudEvents header mapping (as KEI and a plain NATS client see it),
// ephemeral fan-out with wildcards and start positions, de-duplication,
// pipelined batches, consumer groups (competing members, acks, redelivery,
// backoff, dead letters, hand-over on Close), request/reply, and surviving a
// server restart.
// The backend contract shared with the embedded broker is bus_backend_test.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bus/backend.h"
#include "bus/nats/envelope_headers.h"
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

using testing::Collect;
using testing::Payloads;
using testing::Text;

StartPosition Start(StartPosition::Kind kind) {
  StartPosition start;
  start.kind = kind;
  return start;
}

absl::StatusOr<std::unique_ptr<NatsBackend>> ConnectTo(const testing::NatsServer& server) {
  NatsBackendOptions options;
  options.url = server.url();
  return NatsBackend::Connect(options);
}

// One server for the suite; every test uses its own topics and groups.
class NatsBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = testing::NatsServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    auto backend = ConnectTo(*server_);
    ASSERT_TRUE(backend.ok()) << backend.status();
    bus_ = *std::move(backend);
  }

  std::unique_ptr<Subscription> Sub(const std::string& pattern, StartPosition start = {}) {
    return testing::MustSubscribe(*bus_, pattern, start);
  }
  std::unique_ptr<Subscription> Group(const std::string& pattern, const std::string& group,
                                      GroupOptions options = {}, StartPosition start = {}) {
    return testing::MustSubscribe(*bus_, pattern, start, group, options);
  }
  uint64_t Pub(const std::string& topic, absl::string_view text) {
    return testing::MustPublish(*bus_, topic, text);
  }

  static testing::NatsServer* server_;
  std::unique_ptr<NatsBackend> bus_;
};

testing::NatsServer* NatsBackendTest::server_ = nullptr;

v1::Envelope FullEnvelope() {
  v1::Envelope e;
  e.set_id("id-42");
  e.set_source("kei://agent/planner");
  e.set_type("dev.kei.agent.message");
  e.set_subject("plan-7");
  e.mutable_time()->set_seconds(1767225600);
  e.mutable_time()->set_nanos(123456789);
  e.set_datacontenttype("application/json; charset=utf-8");
  e.set_dataschema("https://kei.dev/schemas/value");
  e.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  e.set_tracestate("kei=1, other=%2");
  google::protobuf::Value value;
  value.set_string_value("hello");
  e.mutable_proto_data()->PackFrom(value);
  auto& ext = *e.mutable_extensions();
  ext["tenant"] = "acme";
  ext["empty"] = "";
  ext["spaced"] = "  two ends  ";
  ext["quoted"] = "\"50%\"\r\nnext line";
  ext["unicode"] = "grüße ✓";
  ext["id"] = "not the event id";
  ext["with:colon and space"] = "x";
  ext[""] = "nameless";
  return e;
}

TEST_F(NatsBackendTest, EnvelopeCodecRoundTripsEdgeCases) {
  std::vector<v1::Envelope> cases;
  cases.push_back(FullEnvelope());
  cases.push_back(Text(""));          // empty binary data
  cases.emplace_back();               // nothing at all
  v1::Envelope empty_proto;
  empty_proto.mutable_proto_data();   // proto data with empty type and value
  cases.push_back(empty_proto);
  for (const v1::Envelope& e : cases) {
    auto msg = nats::EncodeEnvelope("kei.msg.codec", "", e);
    ASSERT_TRUE(msg.ok()) << msg.status();
    EXPECT_EQ(nats::DecodeEnvelope(msg->get()).DebugString(), e.DebugString());
  }
}

TEST_F(NatsBackendTest, EnvelopeTravelsAsCloudEventsHeaders) {
  natsConnection* plain = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&plain, server_->url().c_str()), NATS_OK);
  natsSubscription* wire = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&wire, plain, "kei.msg.wire.>"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(plain), NATS_OK);
  auto sub = Sub("wire.t");
  ASSERT_TRUE(sub);

  v1::Envelope e = FullEnvelope();
  ASSERT_TRUE(bus_->Publish("wire.t", e).ok());
  auto got = Collect(*sub, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message->envelope().DebugString(), e.DebugString());
  EXPECT_EQ(got[0].message->topic, "wire.t");

  natsMsg* raw = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&raw, wire, 5000), NATS_OK);
  nats::NatsMsgPtr msg(raw);
  auto header = [&](const char* key) {
    const char* value = nullptr;
    return natsMsgHeader_Get(msg.get(), key, &value) == NATS_OK ? std::string(value) : "<none>";
  };
  EXPECT_STREQ(natsMsg_GetSubject(msg.get()), "kei.msg.wire.t");
  EXPECT_EQ(header("ce-specversion"), "1.0");
  EXPECT_EQ(header("ce-id"), "id-42");
  EXPECT_EQ(header("Nats-Msg-Id"), "id-42");
  EXPECT_EQ(header("ce-source"), "kei://agent/planner");
  EXPECT_EQ(header("ce-type"), "dev.kei.agent.message");
  EXPECT_EQ(header("ce-time"), "2026-01-01T00:00:00.123456789Z");
  EXPECT_EQ(header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(header("traceparent"), e.traceparent());
  EXPECT_EQ(header("ce-tenant"), "acme");
  EXPECT_EQ(header("kei-proto-type"), "type.googleapis.com/google.protobuf.Value");
  EXPECT_EQ(std::string(natsMsg_GetData(msg.get()), natsMsg_GetDataLength(msg.get())),
            e.proto_data().value());
  natsSubscription_Destroy(wire);
  natsConnection_Destroy(plain);
}

TEST_F(NatsBackendTest, EphemeralFanOutWithWildcardsAndSequences) {
  uint64_t before = Pub("agent.a.events", "before");
  auto star = Sub("agent.*.events");
  auto tail = Sub("agent.>");
  ASSERT_TRUE(star && tail);
  EXPECT_GE(star->last_sequence(), before);
  EXPECT_GE(star->first_sequence(), 1u);
  uint64_t x = Pub("agent.x.events", "x");
  Pub("agent.x.y.events", "xy");
  Pub("agent.x", "bare");
  Pub("other.x.events", "other");
  Pub("agent.z.events", "z");
  auto stars = Collect(*star, 2);
  EXPECT_THAT(Payloads(stars), ElementsAre("x", "z"));
  ASSERT_FALSE(stars.empty());
  EXPECT_EQ(stars[0].message->sequence, x);
  EXPECT_EQ(stars[0].message->topic, "agent.x.events");
  EXPECT_TRUE(stars[0].ack_id.empty());
  EXPECT_LE(absl::Now() - stars[0].message->publish_time, absl::Seconds(10));
  EXPECT_THAT(Payloads(Collect(*tail, 4)), ElementsAre("x", "xy", "bare", "z"));
  EXPECT_TRUE(Collect(*star, 1, absl::Milliseconds(200)).empty());
}

TEST_F(NatsBackendTest, StartPositionsReplay) {
  // Just past a second boundary, so the start time's fraction is below 0.1 s
  // (which libnats cannot encode: the backend rounds down and filters).
  absl::Time now = absl::Now();
  absl::SleepFor(absl::FromUnixSeconds(absl::ToUnixSeconds(now) + 1) - now);
  Pub("replay.t", "a");
  Pub("replay.t", "b");
  absl::SleepFor(absl::Milliseconds(20));
  absl::Time middle = absl::Now();
  absl::SleepFor(absl::Milliseconds(20));
  uint64_t third = Pub("replay.t", "c");
  auto all = Sub("replay.t", Start(StartPosition::Kind::kAll));
  StartPosition seq = Start(StartPosition::Kind::kSequence);
  seq.sequence = third;
  auto from_seq = Sub("replay.t", seq);
  StartPosition time = Start(StartPosition::Kind::kTime);
  time.time = middle;
  auto from_time = Sub("replay.t", time);
  auto fresh = Sub("replay.t");
  auto group = Group("replay.t", "replayers", {}, time);
  ASSERT_TRUE(all && from_seq && from_time && fresh && group);
  Pub("replay.t", "d");
  EXPECT_THAT(Payloads(Collect(*all, 4)), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(Payloads(Collect(*from_seq, 2)), ElementsAre("c", "d"));
  EXPECT_THAT(Payloads(Collect(*from_time, 2)), ElementsAre("c", "d"));
  EXPECT_THAT(Payloads(Collect(*fresh, 1)), ElementsAre("d"));
  EXPECT_THAT(Payloads(Collect(*group, 2)), ElementsAre("c", "d"));
}

TEST_F(NatsBackendTest, PublishesAreDeduplicatedById) {
  auto sub = Sub("dedup.t");
  ASSERT_TRUE(sub);
  v1::Envelope e = Text("once");
  e.set_id("dedup-id-1");
  auto first = bus_->Publish("dedup.t", e);
  auto second = bus_->Publish("dedup.t", e);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(first->duplicate);
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(first->sequence, second->sequence);
  auto filled = bus_->Publish("dedup.t", Text("next"));
  ASSERT_TRUE(filled.ok());
  EXPECT_EQ(filled->id.size(), 36u);
  EXPECT_THAT(Payloads(Collect(*sub, 3, absl::Seconds(1))), ElementsAre("once", "next"));
}

TEST_F(NatsBackendTest, BatchesArePipelinedInOrder) {
  // The same batch as a vector of envelopes and as an arena batch (what the
  // Bus service publishes).
  for (bool arena : {false, true}) {
    SCOPED_TRACE(arena ? "arena batch" : "vector batch");
    const std::string prefix = arena ? "arenabatch" : "batch";
    auto sub = Sub(prefix + ".>");
    ASSERT_TRUE(sub);
    v1::Envelope repeated = Text("same");
    repeated.set_id(prefix + "-dup");
    std::vector<std::pair<std::string, v1::Envelope>> batch;
    for (int i = 0; i < 50; ++i) batch.emplace_back(prefix + ".a", Text(absl::StrCat(i)));
    batch.emplace_back("bad topic", Text("x"));
    batch.emplace_back(prefix + ".b", repeated);
    batch.emplace_back(prefix + ".b", repeated);
    batch.emplace_back("_INBOX.nobody", Text("reply"));
    std::vector<absl::StatusOr<PublishResult>> results;
    if (arena) {
      ArenaBatch parsed = NewArenaBatch();
      for (const auto& [topic, envelope] : batch) {
        v1::PublishRequest* m = parsed->add_messages();
        m->set_topic(topic);
        *m->mutable_envelope() = envelope;
      }
      results = bus_->PublishArenaBatch(std::move(parsed));
    } else {
      results = bus_->PublishBatch(std::move(batch));
    }
    ASSERT_EQ(results.size(), 54u);
    for (int i = 1; i < 50; ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i].status();
      EXPECT_EQ(results[i]->sequence, results[i - 1]->sequence + 1);
      EXPECT_EQ(results[i]->id.size(), 36u);
    }
    EXPECT_EQ(results[50].status().code(), absl::StatusCode::kInvalidArgument);
    ASSERT_TRUE(results[51].ok() && results[52].ok() && results[53].ok());
    EXPECT_FALSE(results[51]->duplicate);
    EXPECT_TRUE(results[52]->duplicate);
    EXPECT_EQ(results[51]->sequence, results[52]->sequence);
    EXPECT_EQ(results[53]->sequence, 0u);
    auto got = Collect(*sub, 51);
    ASSERT_EQ(got.size(), 51u);
    EXPECT_EQ(got[0].message->envelope().binary_data(), "0");
    EXPECT_EQ(got[0].message->envelope().id(), results[0]->id);
    EXPECT_EQ(got[50].message->envelope().binary_data(), "same");
  }
}

TEST_F(NatsBackendTest, NextWithAPastDeadlinePolls) {
  auto sub = Sub("poll.t");
  auto member = Group("poll.t", "pollers");
  ASSERT_TRUE(sub && member);
  absl::Time start = absl::Now();
  EXPECT_TRUE(sub->Next(8, absl::InfinitePast())->empty());
  EXPECT_TRUE(member->Next(8, absl::InfinitePast())->empty());
  Pub("poll.t", "one");
  Pub("poll.t", "two");
  std::vector<Delivery> got;
  for (int i = 0; i < 50 && got.size() < 2; ++i) {
    auto next = member->Next(8, absl::InfinitePast());
    ASSERT_TRUE(next.ok()) << next.status();
    got.insert(got.end(), next->begin(), next->end());
  }
  EXPECT_THAT(Payloads(got), ElementsAre("one", "two"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(NatsBackendTest, ASlowEphemeralSubscriberIsToldItLostMessages) {
  auto slow = Sub("flood.t");
  ASSERT_TRUE(slow);
  for (int sent = 0; sent < 70000; sent += 1000) {
    std::vector<std::pair<std::string, v1::Envelope>> batch;
    for (int i = 0; i < 1000; ++i) batch.emplace_back("flood.t", Text("x"));
    for (const auto& r : bus_->PublishBatch(std::move(batch))) ASSERT_TRUE(r.ok()) << r.status();
  }
  absl::StatusOr<std::vector<Delivery>> next;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    next = slow->Next(1, absl::Now() + absl::Seconds(1));
    if (!next.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));  // still behind: let the queue overflow
  }
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted) << next.status();
  EXPECT_THAT(next.status().message(), HasSubstr("dropped"));
  // It goes on. (Until the server has pushed the whole flood, more may be
  // dropped meanwhile, and each new loss is reported again.)
  auto after = slow->Next(1, absl::Now() + absl::Seconds(1));
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       !after.ok() && after.status().code() == absl::StatusCode::kResourceExhausted &&
       absl::Now() < deadline;) {
    after = slow->Next(1, absl::Now() + absl::Seconds(1));
  }
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size(), 1u);
}

TEST_F(NatsBackendTest, GroupMembersCompeteAndAcksStick) {
  auto m1 = Group("jobs.>", "workers");
  auto m2 = Group("jobs.>", "workers");
  ASSERT_TRUE(m1 && m2);
  constexpr int kCount = 60;
  for (int i = 0; i < kCount; ++i) Pub(absl::StrCat("jobs.", i % 3), absl::StrCat(i));
  std::multiset<std::string> seen;
  size_t counts[2] = {0, 0};
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (seen.size() < kCount && absl::Now() < deadline) {
    for (int i = 0; i < 2; ++i) {
      auto next = (i == 0 ? m1 : m2)->Next(8, absl::Now() + absl::Milliseconds(20));
      ASSERT_TRUE(next.ok()) << next.status();
      for (const Delivery& d : *next) {
        seen.insert(d.message->envelope().binary_data());
        EXPECT_THAT(d.ack_id, ::testing::StartsWith("$JS.ACK.KEI.workers."));
        EXPECT_EQ(d.attempt, 1u);
        ASSERT_TRUE(bus_->Ack(d.ack_id).ok());
        ++counts[i];
      }
    }
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(seen.count(absl::StrCat(i)), 1u) << i;
  EXPECT_GT(counts[0], 0u);
  EXPECT_GT(counts[1], 0u);
  EXPECT_TRUE(Collect(*m1, 1, absl::Milliseconds(400)).empty());
  EXPECT_TRUE(Collect(*m2, 1, absl::Milliseconds(100)).empty());
}

TEST_F(NatsBackendTest, MissedAcksRedeliverThenDeadLetter) {
  auto dead = Sub("deadletter.poison");
  GroupOptions options;
  options.ack_wait = absl::Milliseconds(300);
  options.max_deliveries = 2;
  auto m = Group("tasks.poison", "poison", options);
  ASSERT_TRUE(dead && m);
  v1::Envelope e = Text("bad");
  e.set_id("poison-1");
  auto published = bus_->Publish("tasks.poison", e);
  ASSERT_TRUE(published.ok());

  auto first = Collect(*m, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt, 1u);
  absl::Time delivered = absl::Now();
  auto second = Collect(*m, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(absl::Now() - delivered, absl::Milliseconds(250));
  EXPECT_EQ(second[0].attempt, 2u);
  EXPECT_EQ(second[0].message->sequence, published->sequence);
  // The third attempt is never handed out: it goes to the dead-letter topic.
  EXPECT_TRUE(Collect(*m, 1, absl::Milliseconds(700)).empty());
  auto letters = Collect(*dead, 1);
  ASSERT_EQ(letters.size(), 1u);
  const v1::Envelope& letter = letters[0].message->envelope();
  EXPECT_EQ(letters[0].message->topic, "deadletter.poison");
  EXPECT_EQ(letter.id(), "poison-1");
  EXPECT_EQ(letter.binary_data(), "bad");
  EXPECT_EQ(letter.extensions().at("keiorigtopic"), "tasks.poison");
  EXPECT_EQ(letter.extensions().at("keiorigsequence"), absl::StrCat(published->sequence));
  EXPECT_EQ(letter.extensions().at("keigroup"), "poison");
  EXPECT_TRUE(Collect(*m, 1, absl::Milliseconds(500)).empty());
}

TEST_F(NatsBackendTest, NackHonoursDelayAndBackoff) {
  GroupOptions options;
  options.backoff = {absl::Milliseconds(400)};
  auto m = Group("tasks.nack", "nackers", options);
  ASSERT_TRUE(m);
  Pub("tasks.nack", "retry");
  auto first = Collect(*m, 1);
  ASSERT_EQ(first.size(), 1u);
  absl::Time nacked = absl::Now();
  ASSERT_TRUE(bus_->Nack(first[0].ack_id, absl::Seconds(-1)).ok());  // the backoff
  auto second = Collect(*m, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(absl::Now() - nacked, absl::Milliseconds(350));
  EXPECT_EQ(second[0].attempt, 2u);
  nacked = absl::Now();
  ASSERT_TRUE(bus_->Nack(second[0].ack_id, absl::ZeroDuration()).ok());
  auto third = Collect(*m, 1);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_LT(absl::Now() - nacked, absl::Milliseconds(350));
  EXPECT_EQ(third[0].attempt, 3u);
  ASSERT_TRUE(bus_->Ack(third[0].ack_id).ok());
  ASSERT_TRUE(bus_->Ack(third[0].ack_id).ok());  // again: ignored
  EXPECT_TRUE(Collect(*m, 1, absl::Milliseconds(300)).empty());
}

TEST_F(NatsBackendTest, GroupsKeepTheirPatternAndRejectBadInput) {
  auto m = Group("billing.>", "billing");
  ASSERT_TRUE(m);
  SubscribeSpec other;
  other.pattern = "shipping.>";
  other.group = "billing";
  auto status = bus_->Subscribe(other).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("billing.>"));
  other.group = "bad.name";
  EXPECT_EQ(bus_->Subscribe(other).status().code(), absl::StatusCode::kInvalidArgument);
  other.group = "fine";
  other.group_options.ack_wait = absl::ZeroDuration();
  EXPECT_EQ(bus_->Subscribe(other).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus_->Publish("a.*", Text("x")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus_->Publish("big.t", Text(std::string(2 << 20, 'x'))).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(bus_->Ack("not an ack id").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus_->Ack("$JS.ACK.OTHER.c.1.2.3.4.0").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus_->Nack("$JS.ACK.KEI.c.x.2.3.4.0", absl::ZeroDuration()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(bus_->Ack("$JS.ACK.KEI.unknown.1.999999.1.1.0").ok());  // unknown: ignored
}

TEST_F(NatsBackendTest, MaxAckPendingBoundsTheGroup) {
  GroupOptions options;
  options.max_ack_pending = 2;
  auto m = Group("pending.t", "bounded", options);
  ASSERT_TRUE(m);
  for (int i = 0; i < 5; ++i) Pub("pending.t", absl::StrCat(i));
  auto first = Collect(*m, 5, absl::Milliseconds(500));
  EXPECT_THAT(Payloads(first), ElementsAre("0", "1"));
  for (const Delivery& d : first) ASSERT_TRUE(bus_->Ack(d.ack_id).ok());
  EXPECT_THAT(Payloads(Collect(*m, 2)), ElementsAre("2", "3"));
}

TEST_F(NatsBackendTest, ClosedMembersWorkGoesToTheOthers) {
  auto m1 = Group("handoff.t", "handoff");
  auto m2 = Group("handoff.t", "handoff");
  ASSERT_TRUE(m1 && m2);
  Pub("handoff.t", "job");
  ASSERT_EQ(Collect(*m1, 1).size(), 1u);
  m1->Close();
  EXPECT_EQ(m1->Next(1, absl::Now() + absl::Milliseconds(100)).status().code(),
            absl::StatusCode::kCancelled);
  auto again = Collect(*m2, 1, absl::Seconds(3));  // long before the 30 s ack wait
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2u);
}

TEST_F(NatsBackendTest, RequestsReachOneResponder) {
  auto echo = Sub("svc.echo");
  auto w1 = Group("svc.work", "pool");
  auto w2 = Group("svc.work", "pool");
  ASSERT_TRUE(echo && w1 && w2);
  std::atomic<int> served{0};
  auto serve = [&](Subscription* s) {
    absl::Time deadline = absl::Now() + absl::Seconds(2);
    while (absl::Now() < deadline) {
      auto next = s->Next(1, absl::Now() + absl::Milliseconds(50));
      if (!next.ok()) return;
      for (const Delivery& d : *next) {
        if (d.message->reply_to.empty()) continue;
        ++served;
        EXPECT_TRUE(d.ack_id.empty());
        auto reply = Text(absl::StrCat("re: ", d.message->envelope().binary_data(), " on ",
                                       d.message->topic));
        auto replied = bus_->Publish(d.message->reply_to, reply);
        EXPECT_TRUE(replied.ok() && replied->sequence == 0) << replied.status();
      }
    }
  };
  std::thread t0(serve, echo.get()), t1(serve, w1.get()), t2(serve, w2.get());
  auto echoed = bus_->Request("svc.echo", Text("ping"), absl::Now() + absl::Seconds(2));
  auto worked = bus_->Request("svc.work", Text("job"), absl::Now() + absl::Seconds(2));
  t0.join();
  t1.join();
  t2.join();
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ((*echoed)->envelope().binary_data(), "re: ping on svc.echo");
  EXPECT_THAT((*echoed)->topic, ::testing::StartsWith("_INBOX."));
  ASSERT_TRUE(worked.ok()) << worked.status();
  EXPECT_EQ((*worked)->envelope().binary_data(), "re: job on svc.work");
  EXPECT_EQ(served.load(), 2);
}

TEST_F(NatsBackendTest, RequestsWithoutAnswersFail) {
  auto none = bus_->Request("svc.nobody", Text("hello?"), absl::Now() + absl::Seconds(2));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable) << none.status();
  EXPECT_THAT(none.status().message(), HasSubstr("no responders"));
  auto silent = Sub("svc.silent");
  ASSERT_TRUE(silent);
  absl::Time start = absl::Now();
  auto late = bus_->Request("svc.silent", Text("hello?"), absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(bus_->Request("_INBOX.x", Text("x"), absl::Now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(NatsBackendTest, CloseAndBackendShutdownEndNext) {
  auto sub = Sub("wake.t");
  ASSERT_TRUE(sub);
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(100));
    sub->Close();
  });
  auto next = sub->Next(1, absl::Now() + absl::Seconds(10));
  closer.join();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kCancelled);

  auto orphan = Sub("orphan.t");
  auto member = Group("orphan.g", "orphans");
  ASSERT_TRUE(orphan && member);
  bus_.reset();
  EXPECT_EQ(orphan->Next(1, absl::Now() + absl::Seconds(2)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(member->Next(1, absl::Now() + absl::Seconds(2)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(NatsBackendRestartTest, ReconnectsAfterTheServerRestarts) {
  auto server = testing::NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto bus = ConnectTo(**server);
  ASSERT_TRUE(bus.ok()) << bus.status();
  ASSERT_TRUE((*bus)->Publish("restart.t", Text("before")).ok());
  (*server)->Kill();
  ASSERT_TRUE((*server)->Restart().ok());
  bool published = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       !published && absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(100))) {
    published = (*bus)->Publish("restart.t", Text("after")).ok();
  }
  ASSERT_TRUE(published);
  SubscribeSpec spec;
  spec.pattern = "restart.t";
  spec.start.kind = StartPosition::Kind::kAll;
  auto replay = (*bus)->Subscribe(spec);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_THAT(Payloads(Collect(**replay, 2)), ElementsAre("before", "after"));
}

}  // namespace
}  // namespace kei::bus
