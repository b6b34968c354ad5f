// MemoryTopics, the in-process topic backend: sequencing, bounded retention,
// resume after a sequence, limits, and what Unsubscribe promises.
#include "cc/pubsub/memory_topics.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei::pubsub {
namespace {

using ::testing::ElementsAre;

struct Collector {
  absl::Mutex mu;
  std::vector<uint64_t> sequences;
  std::vector<std::string> data;
  TopicCallback callback() {
    return [this](const TopicMessagePtr& m) {
      absl::MutexLock lock(&mu);
      sequences.push_back(m->sequence);
      data.push_back(m->data_json);
    };
  }
};

TEST(MemoryTopicsTest, SequencesFanOutAndNewOnly) {
  MemoryTopics topics;
  ASSERT_EQ(*topics.Publish("t", "1"), 1u);
  Collector a, b;
  auto sa = topics.Subscribe("t", 0, a.callback());
  auto sb = topics.Subscribe("t", 0, b.callback());
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sa->last_sequence, 1u);
  EXPECT_EQ(sa->first_sequence, 1u);
  EXPECT_EQ(*topics.Publish("t", R"({"x":2})"), 2u);
  EXPECT_EQ(*topics.Publish("other", "9"), 1u);  // sequences are per topic
  EXPECT_THAT(a.sequences, ElementsAre(2));
  EXPECT_THAT(b.data, ElementsAre(R"({"x":2})"));
  EXPECT_EQ(topics.subscriber_count("t"), 2u);
}

TEST(MemoryTopicsTest, ResumesFromRetainedMessages) {
  MemoryTopicsOptions options;
  options.retain_messages = 3;
  MemoryTopics topics(options);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(topics.Publish("t", absl::StrCat(i)).ok());
  Collector c;
  auto s = topics.Subscribe("t", 1, c.callback());  // 2..5 wanted, only 3..5 kept
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->first_sequence, 3u);
  EXPECT_EQ(s->last_sequence, 5u);
  EXPECT_THAT(c.sequences, ElementsAre(3, 4, 5));
  ASSERT_TRUE(topics.Publish("t", "6").ok());
  EXPECT_THAT(c.sequences, ElementsAre(3, 4, 5, 6));
}

TEST(MemoryTopicsTest, RetentionBoundedByBytes) {
  MemoryTopicsOptions options;
  options.retain_bytes = 1000;
  MemoryTopics topics(options);
  const std::string big = absl::StrCat("\"", std::string(300, 'x'), "\"");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(topics.Publish("t", big).ok());
  Collector c;
  ASSERT_TRUE(topics.Subscribe("t", 0 + 1, c.callback()).ok());
  EXPECT_LE(c.sequences.size(), 3u);
  EXPECT_GE(c.sequences.size(), 1u);
  EXPECT_EQ(c.sequences.back(), 10u);
}

TEST(MemoryTopicsTest, UnsubscribeStopsDelivery) {
  MemoryTopics topics;
  Collector c;
  auto s = topics.Subscribe("t", 0, c.callback());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(topics.Publish("t", "1").ok());
  topics.Unsubscribe(s->id);
  topics.Unsubscribe(s->id);  // twice: ignored
  topics.Unsubscribe(12345);  // unknown: ignored
  ASSERT_TRUE(topics.Publish("t", "2").ok());
  EXPECT_THAT(c.sequences, ElementsAre(1));
  EXPECT_EQ(topics.subscriber_count("t"), 0u);
}

TEST(MemoryTopicsTest, LimitsAndNames) {
  MemoryTopicsOptions options;
  options.max_topics = 2;
  options.max_message_bytes = 10;
  MemoryTopics topics(options);
  ASSERT_TRUE(topics.Publish("a", "1").ok());
  ASSERT_TRUE(topics.Publish("b", "1").ok());
  EXPECT_EQ(topics.Publish("c", "1").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(topics.Subscribe("c", 0, [](const TopicMessagePtr&) {}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(topics.Publish("a", "12345678901").status().code(),
            absl::StatusCode::kResourceExhausted);
  for (const char* bad : {"", ".a", "a.", "a b", "a/b", "a*", "a>"}) {
    EXPECT_EQ(topics.Publish(bad, "1").status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(topics.Publish(std::string(257, 'a'), "1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateTopicName("kei.agent.v1.events").ok());
  EXPECT_TRUE(ValidateTopicName("a-b_c.9").ok());
}

TEST(MemoryTopicsTest, ConcurrentPublishersKeepOneOrderPerTopic) {
  MemoryTopics topics;
  Collector c;
  ASSERT_TRUE(topics.Subscribe("t", 0, c.callback()).ok());
  std::vector<std::thread> publishers;
  for (int p = 0; p < 4; ++p) {
    publishers.emplace_back([&topics] {
      for (int i = 0; i < 500; ++i) ASSERT_TRUE(topics.Publish("t", "0").ok());
    });
  }
  for (auto& t : publishers) t.join();
  absl::MutexLock lock(&c.mu);
  ASSERT_EQ(c.sequences.size(), 2000u);
  for (size_t i = 0; i < c.sequences.size(); ++i) EXPECT_EQ(c.sequences[i], i + 1);
}

}  // namespace
}  // namespace kei::pubsub
