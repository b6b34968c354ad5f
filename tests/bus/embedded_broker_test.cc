// The embedded broker's own corners, beyond the backend contract: racing
// duplicate publishes, resuming below retention, catching up across long runs
// of other topics, and group state that cannot be read after a crash.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bus/embedded_broker.h"
#include "bus/log/file_log.h"
#include "bus/log/memory_log.h"
#include "cc/codec/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bus/bus_test_util.h"

namespace kei::bus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Collect;
using testing::MustSubscribe;
using testing::Payloads;
using testing::Text;

// A MemoryLog with a hook before every append, for logs that misbehave.
class HookedLog : public MessageLog {
 public:
  absl::Status Append(const std::vector<std::shared_ptr<Message>>& batch) override {
    if (auto s = BeforeAppend(batch); !s.ok()) return s;
    return log_.Append(batch);
  }
  uint64_t first_sequence() const override { return log_.first_sequence(); }
  uint64_t last_sequence() const override { return log_.last_sequence(); }
  absl::StatusOr<LogReadResult> Read(uint64_t from, size_t max, const TopicFilter& filter,
                                     size_t max_scan) const override {
    return log_.Read(from, max, filter, max_scan);
  }
  uint64_t SequenceAtTime(absl::Time time) const override { return log_.SequenceAtTime(time); }
  void EnforceRetention(absl::Time now) override { log_.EnforceRetention(now); }
  uint64_t message_count() const override { return log_.message_count(); }
  uint64_t byte_count() const override { return log_.byte_count(); }

 protected:
  virtual absl::Status BeforeAppend(const std::vector<std::shared_ptr<Message>>& batch) = 0;

 private:
  MemoryLog log_;
};

// Appends take a while, so publishes overlap.
class SlowLog final : public HookedLog {
 private:
  absl::Status BeforeAppend(const std::vector<std::shared_ptr<Message>>&) override {
    absl::SleepFor(absl::Milliseconds(2));
    return absl::OkStatus();
  }
};

// Refuses the first `failures` appends of dead letters.
class DeadLetterRefusingLog final : public HookedLog {
 public:
  explicit DeadLetterRefusingLog(int failures) : failures_(failures) {}

 private:
  absl::Status BeforeAppend(const std::vector<std::shared_ptr<Message>>& batch) override {
    for (const auto& m : batch) {
      if (absl::StartsWith(m->topic, "deadletter.") && failures_-- > 0) {
        return absl::UnavailableError("disk full");
      }
    }
    return absl::OkStatus();
  }
  std::atomic<int> failures_;
};

TEST(EmbeddedBrokerTest, AFailedDeadLetterStoreIsRetriedNotLost) {
  auto broker = EmbeddedBroker::Open(std::make_unique<DeadLetterRefusingLog>(2));
  ASSERT_TRUE(broker.ok());
  SubscribeSpec dead_spec;
  dead_spec.pattern = "deadletter.fragile";
  auto dead = (*broker)->Subscribe(dead_spec);
  ASSERT_TRUE(dead.ok());
  SubscribeSpec spec;
  spec.pattern = "work.t";
  spec.group = "fragile";
  spec.group_options.ack_wait = absl::Milliseconds(100);
  spec.group_options.max_deliveries = 1;
  auto member = (*broker)->Subscribe(spec);
  ASSERT_TRUE(member.ok());
  ASSERT_TRUE((*broker)->Publish("work.t", Text("poison")).ok());
  std::vector<uint32_t> attempts;
  std::vector<Delivery> dead_letters;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (dead_letters.empty() && absl::Now() < deadline) {
    auto next = (*member)->Next(1, absl::Now() + absl::Milliseconds(50));
    ASSERT_TRUE(next.ok());
    for (const Delivery& d : *next) attempts.push_back(d.attempt);  // never acknowledged
    auto d = (*dead)->Next(1, absl::Now() + absl::Milliseconds(50));
    ASSERT_TRUE(d.ok());
    for (Delivery& x : *d) dead_letters.push_back(std::move(x));
  }
  EXPECT_THAT(attempts, ElementsAre(1));  // never handed out again while dead-lettering
  ASSERT_EQ(dead_letters.size(), 1u);
  EXPECT_EQ(dead_letters[0].message->envelope().binary_data(), "poison");
  EXPECT_TRUE(Collect(**dead, 1, absl::Milliseconds(800)).empty());
}

TEST(EmbeddedBrokerTest, RacingPublishesOfOneIdStoreItOnce) {
  auto broker = EmbeddedBroker::Open(std::make_unique<SlowLog>());
  ASSERT_TRUE(broker.ok());
  for (int round = 0; round < 20; ++round) {
    v1::Envelope e = Text("once");
    e.set_id(absl::StrCat("racing-", round));
    std::vector<std::thread> threads;
    std::atomic<int> originals{0};
    std::set<uint64_t> sequences;
    absl::Mutex mu;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        auto r = (*broker)->Publish("race.t", e);
        ASSERT_TRUE(r.ok()) << r.status();
        if (!r->duplicate) ++originals;
        absl::MutexLock lock(&mu);
        sequences.insert(r->sequence);
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(originals.load(), 1);
    EXPECT_EQ(sequences.size(), 1u);
  }
}

// An embedded broker whose in-memory log keeps at most `max_messages`.
absl::StatusOr<std::unique_ptr<EmbeddedBroker>> OpenKeeping(uint64_t max_messages) {
  RetentionPolicy retention;
  retention.max_messages = max_messages;
  return EmbeddedBroker::Open(std::make_unique<MemoryLog>(retention));
}

TEST(EmbeddedBrokerTest, ResumingBelowRetentionStartsAtTheOldestRetained) {
  auto broker = OpenKeeping(5);
  ASSERT_TRUE(broker.ok());
  for (int i = 1; i <= 12; ++i) ASSERT_TRUE((*broker)->Publish("old.t", Text(absl::StrCat(i))).ok());
  const_cast<MessageLog&>((*broker)->log()).EnforceRetention(absl::Now());
  SubscribeSpec spec;
  spec.pattern = "old.t";
  spec.start.kind = StartPosition::Kind::kSequence;
  spec.start.sequence = 2;
  auto sub = (*broker)->Subscribe(spec);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ((*sub)->first_sequence(), 8u);
  EXPECT_THAT(Payloads(Collect(**sub, 5)), ElementsAre("8", "9", "10", "11", "12"));
}

// Retention holds at every publish, but never drops the batch just stored:
// a live subscriber gets all of a batch bigger than the count limit.
TEST(EmbeddedBrokerTest, ABatchOverTheCountLimitStillReachesLiveSubscribers) {
  auto broker = OpenKeeping(3);
  ASSERT_TRUE(broker.ok());
  SubscribeSpec spec;
  spec.pattern = "big.t";
  auto sub = (*broker)->Subscribe(spec);
  ASSERT_TRUE(sub.ok());
  std::vector<std::pair<std::string, v1::Envelope>> batch;
  for (int i = 1; i <= 8; ++i) batch.emplace_back("big.t", Text(absl::StrCat(i)));
  for (const auto& r : (*broker)->PublishBatch(std::move(batch))) ASSERT_TRUE(r.ok());
  EXPECT_THAT(Payloads(Collect(**sub, 8)),
              ElementsAre("1", "2", "3", "4", "5", "6", "7", "8"));
  // The next publish brings the log back to its limit.
  ASSERT_TRUE((*broker)->Publish("big.t", Text("9")).ok());
  EXPECT_EQ((*broker)->log().message_count(), 3u);
}

// A subscriber that read some messages and then lets retention drop the
// next ones gets RESOURCE_EXHAUSTED with the count, even when the drop
// happened at a publish (not the periodic retention pass); one that only
// asked to start at the oldest retained message misses nothing and gets none.
TEST(EmbeddedBrokerTest, FallingBehindRetentionIsAnErrorStartingBelowItIsNot) {
  auto broker = OpenKeeping(4);
  ASSERT_TRUE(broker.ok());
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE((*broker)->Publish("lag.t", Text(absl::StrCat(i))).ok());
  SubscribeSpec spec;
  spec.pattern = "lag.t";
  spec.start.kind = StartPosition::Kind::kAll;
  auto slow = (*broker)->Subscribe(spec);
  auto late = (*broker)->Subscribe(spec);
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(late.ok());
  EXPECT_THAT(Payloads(Collect(**slow, 2)), ElementsAre("1", "2"));
  // Six more: the log keeps 7..10; `slow` expected 3 next, `late` never read.
  for (int i = 5; i <= 10; ++i) {
    ASSERT_TRUE((*broker)->Publish("lag.t", Text(absl::StrCat(i))).ok());
  }
  absl::Status fell_behind;
  for (int tries = 0; tries < 10 && fell_behind.ok(); ++tries) {
    auto next = (*slow)->Next(10, absl::Now() + absl::Seconds(5));
    if (!next.ok()) fell_behind = next.status();
  }
  EXPECT_EQ(fell_behind.code(), absl::StatusCode::kResourceExhausted) << fell_behind;
  EXPECT_THAT(fell_behind.message(), HasSubstr("4 messages were dropped"));
  EXPECT_THAT(fell_behind.message(), HasSubstr("resubscribe from sequence 7"));
  EXPECT_THAT(Payloads(Collect(**late, 4)), ElementsAre("7", "8", "9", "10"));
}

// Adds a message to `batch`; with a time unless `timed` is false.
void AddMessage(v1::PublishBatchRequest& batch, const std::string& topic, const std::string& text,
                const std::string& id, bool timed = true) {
  v1::PublishRequest* m = batch.add_messages();
  m->set_topic(topic);
  *m->mutable_envelope() = Text(text);
  m->mutable_envelope()->set_id(id);
  if (timed) m->mutable_envelope()->mutable_time()->set_seconds(1764000000);
}

// Whether `message` keeps its envelope inside `buffer`.
bool Inside(const Message& message, absl::string_view buffer) {
  const char* p = message.envelope_bytes().data();
  return message.serialized() && p >= buffer.data() && p < buffer.data() + buffer.size();
}

TEST(EmbeddedBrokerTest, AWholeSerializedBatchIsStoredAsItCame) {
  auto broker = OpenKeeping(3);
  ASSERT_TRUE(broker.ok());
  auto sub = MustSubscribe(**broker, "bytes.>");
  ASSERT_NE(sub, nullptr);
  v1::PublishBatchRequest batch;
  AddMessage(batch, "bytes.a", "one", "id-1");
  AddMessage(batch, "bytes.b", "two", "id-2");
  std::string bytes = batch.SerializeAsString();
  const absl::string_view buffer = bytes;  // the string's buffer moves with it

  auto results = (*broker)->PublishSerializedBatch(std::move(bytes));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  for (const auto& r : *results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*results)[1]->id, "id-2");

  auto got = Collect(*sub, 2);
  ASSERT_EQ(got.size(), 2u);
  // The envelopes are the bytes the publisher sent, uncopied.
  EXPECT_TRUE(Inside(*got[0].message, buffer));
  EXPECT_TRUE(Inside(*got[1].message, buffer));
  EXPECT_EQ(got[1].message->envelope_bytes(), batch.messages(1).envelope().SerializeAsString());
  EXPECT_EQ(got[1].message->topic, "bytes.b");
  EXPECT_EQ(got[1].message->id(), "id-2");
  EXPECT_EQ(got[1].message->envelope().id(), "id-2");
  EXPECT_EQ(got[0].message->envelope().time().seconds(), 1764000000);
  EXPECT_THAT(Payloads(got), ElementsAre("one", "two"));
}

// Whatever retention would not count (envelopes rewritten with defaults,
// unknown fields) must not stay in memory through the stored messages:
// then they are stored as copies of their own.
TEST(EmbeddedBrokerTest, ABatchWithUncountedBytesIsStoredAsCopies) {
  auto broker = OpenKeeping(3);
  ASSERT_TRUE(broker.ok());
  auto sub = MustSubscribe(**broker, "bytes.>");
  ASSERT_NE(sub, nullptr);
  v1::PublishBatchRequest defaults;
  AddMessage(defaults, "bytes.a", "one", "id-1");
  AddMessage(defaults, "bytes.b", "two", "", /*timed=*/false);  // the broker fills both in
  std::string bytes = defaults.SerializeAsString();
  const absl::string_view buffer = bytes;
  auto results = (*broker)->PublishSerializedBatch(std::move(bytes));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  ASSERT_TRUE((*results)[1].ok());
  const std::string filled_id = (*results)[1]->id;
  EXPECT_EQ(filled_id.size(), 36u);

  v1::PublishBatchRequest unknown;
  AddMessage(unknown, "bytes.c", "three", "id-3");
  std::string padded = unknown.SerializeAsString();
  padded += std::string("\x12\x80\x02", 3) + std::string(256, 'u');  // field 2: unknown
  const absl::string_view padded_buffer = padded;
  results = (*broker)->PublishSerializedBatch(std::move(padded));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_TRUE((*results)[0].ok());

  auto got = Collect(*sub, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_THAT(Payloads(got), ElementsAre("one", "two", "three"));
  EXPECT_FALSE(Inside(*got[0].message, buffer));
  EXPECT_FALSE(Inside(*got[1].message, buffer));
  EXPECT_FALSE(Inside(*got[2].message, padded_buffer));
  EXPECT_TRUE(got[1].message->serialized());
  // Defaults are appended to a copy of the envelope: parsed, the id and the
  // time are the ones the broker chose.
  EXPECT_EQ(got[1].message->id(), filled_id);
  EXPECT_EQ(got[1].message->envelope().id(), filled_id);
  EXPECT_EQ(TimeFromProto(got[1].message->envelope().time()), got[1].message->publish_time);
}

TEST(EmbeddedBrokerTest, AMalformedSerializedBatchIsRefusedWhole) {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  ASSERT_TRUE(broker.ok());
  v1::PublishBatchRequest batch;
  AddMessage(batch, "bytes.a", "one", "id-1");
  std::string bytes = batch.SerializeAsString();
  bytes.pop_back();  // truncated
  auto results = (*broker)->PublishSerializedBatch(bytes);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument) << results.status();
  v1::PublishBatchRequest big;
  for (size_t i = 0; i <= kMaxPublishBatch; ++i) AddMessage(big, "big.t", "x", "");
  results = (*broker)->PublishSerializedBatch(big.SerializeAsString());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument) << results.status();
  EXPECT_EQ((*broker)->log().last_sequence(), 0u);
}

TEST(EmbeddedBrokerTest, AnEnvelopeThatDoesNotParseIsRefusedAlone) {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  ASSERT_TRUE(broker.ok());
  v1::PublishBatchRequest batch;
  AddMessage(batch, "bytes.a", "one", "id-1");
  AddMessage(batch, "bytes.b", "two", "id-2");
  std::string bytes = batch.SerializeAsString();
  // The second id's first byte: not UTF-8, which proto3 strings must be.
  const size_t at = bytes.rfind("id-2");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = '\xff';
  auto results = (*broker)->PublishSerializedBatch(bytes);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_EQ((*results)[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*broker)->log().last_sequence(), 1u);
}

// A batch with messages that are not stored (refused, replies, duplicates)
// must not stay in memory through the ones that are: those are stored as
// copies of their own.
TEST(EmbeddedBrokerTest, APartlyStoredBatchIsStoredAsCopies) {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  ASSERT_TRUE(broker.ok());
  auto sub = MustSubscribe(**broker, "part.>");
  ASSERT_NE(sub, nullptr);

  v1::PublishBatchRequest refused;
  AddMessage(refused, "part.a", "one", "id-1");
  AddMessage(refused, "bad topic", "refused", "id-2");
  AddMessage(refused, "_INBOX.nobody", "dropped", "id-3");
  std::string refused_bytes = refused.SerializeAsString();
  const absl::string_view refused_buffer = refused_bytes;
  auto results = (*broker)->PublishSerializedBatch(std::move(refused_bytes));
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 3u);
  ASSERT_TRUE((*results)[0].ok());
  EXPECT_EQ((*results)[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*results)[2].ok());  // a reply nobody waits for is dropped, as NATS does

  v1::PublishBatchRequest duplicate;
  AddMessage(duplicate, "part.b", "two", "id-4");
  AddMessage(duplicate, "part.c", "again", "id-1");  // the first batch's id
  AddMessage(duplicate, "part.d", "twice", "id-4");  // this batch's own
  std::string duplicate_bytes = duplicate.SerializeAsString();
  const absl::string_view duplicate_buffer = duplicate_bytes;
  results = (*broker)->PublishSerializedBatch(std::move(duplicate_bytes));
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 3u);
  ASSERT_TRUE((*results)[0].ok());
  EXPECT_FALSE((*results)[0]->duplicate);
  ASSERT_TRUE((*results)[1].ok());
  EXPECT_TRUE((*results)[1]->duplicate);
  ASSERT_TRUE((*results)[2].ok());
  EXPECT_TRUE((*results)[2]->duplicate);
  EXPECT_EQ((*results)[2]->sequence, (*results)[0]->sequence);

  auto got = Collect(*sub, 2);
  EXPECT_THAT(Payloads(got), ElementsAre("one", "two"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(Inside(*got[0].message, refused_buffer));
  EXPECT_FALSE(Inside(*got[1].message, duplicate_buffer));
  EXPECT_TRUE(got[1].message->serialized());
  EXPECT_EQ(got[1].message->id(), "id-4");
  EXPECT_EQ(got[1].message->topic, "part.b");
}

TEST(EmbeddedBrokerTest, ReadersCatchUpAcrossLongRunsOfOtherTopics) {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  ASSERT_TRUE(broker.ok());
  constexpr int kOthers = 70000;  // past one poll's scan limit
  for (int i = 0; i < kOthers; i += 1000) {
    std::vector<std::pair<std::string, v1::Envelope>> batch;
    for (int j = 0; j < 1000; ++j) batch.emplace_back("noise.t", Text("x"));
    for (const auto& r : (*broker)->PublishBatch(std::move(batch))) ASSERT_TRUE(r.ok());
  }
  ASSERT_TRUE((*broker)->Publish("signal.t", Text("found")).ok());
  SubscribeSpec ephemeral;
  ephemeral.pattern = "signal.t";
  ephemeral.start.kind = StartPosition::Kind::kAll;
  auto reader = (*broker)->Subscribe(ephemeral);
  ASSERT_TRUE(reader.ok());
  EXPECT_THAT(Payloads(Collect(**reader, 1, absl::Seconds(5))), ElementsAre("found"));
  SubscribeSpec group = ephemeral;
  group.group = "catchup";
  auto member = (*broker)->Subscribe(group);
  ASSERT_TRUE(member.ok());
  EXPECT_THAT(Payloads(Collect(**member, 1, absl::Seconds(5))), ElementsAre("found"));
}

TEST(EmbeddedBrokerTest, AnUnreadableGroupFileIsSetAsideNotFatal) {
  std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/corrupt-group-", getpid());
  std::filesystem::create_directories(dir + "/groups");
  std::ofstream(dir + "/groups/broken.json") << "{\"name\": \"broken\", \"ack_floor\": ";
  FileLogOptions log_options;
  log_options.directory = dir + "/log";
  auto log = FileLog::Open(log_options);
  ASSERT_TRUE(log.ok());
  EmbeddedBrokerOptions options;
  options.state_directory = dir;
  auto broker = EmbeddedBroker::Open(*std::move(log), options);
  ASSERT_TRUE(broker.ok()) << broker.status();
  EXPECT_TRUE(std::filesystem::exists(dir + "/groups/broken.json.corrupt"));
  SubscribeSpec spec;
  spec.pattern = "fresh.t";
  spec.group = "broken";
  EXPECT_TRUE((*broker)->Subscribe(spec).ok());
}

TEST(EmbeddedBrokerTest, TheNumberOfGroupsIsBounded) {
  EmbeddedBrokerOptions options;
  options.max_groups = 2;
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>(), options);
  ASSERT_TRUE(broker.ok());
  SubscribeSpec spec;
  spec.pattern = "jobs.t";
  for (const char* name : {"a", "b"}) {
    spec.group = name;
    ASSERT_TRUE((*broker)->Subscribe(spec).ok());
  }
  spec.group = "a";  // joining an existing group is fine
  EXPECT_TRUE((*broker)->Subscribe(spec).ok());
  spec.group = "c";
  auto third = (*broker)->Subscribe(spec);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("at most 2 consumer groups"));
}

TEST(EmbeddedBrokerTest, AGroupMayNotReadItsOwnDeadLetters) {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  ASSERT_TRUE(broker.ok());
  SubscribeSpec spec;
  spec.pattern = ">";
  spec.group = "everything";
  auto sub = (*broker)->Subscribe(spec);
  ASSERT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sub.status().message(), HasSubstr("dead letters"));
  spec.group_options.dead_letter_topic = "dlq.everything";
  spec.pattern = "app.>";
  EXPECT_TRUE((*broker)->Subscribe(spec).ok());
}

}  // namespace
}  // namespace kei::bus
