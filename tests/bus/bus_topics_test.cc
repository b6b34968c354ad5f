// BusTopics, the WebSocket/Topics seam on the bus: JSON payloads both ways,
// wildcards, and a pump that subscribes again when the bus ends its
// subscription (here: a backend whose first subscription fails after one
// delivery), without repeating what it delivered.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bus/bus_topics.h"
#include "bus/embedded_broker.h"
#include "bus/log/memory_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei::bus {
namespace {

using ::testing::ElementsAre;

// Delegates to a real broker; the first subscription it hands out ends with
// UNAVAILABLE after its first delivery, as when an engine goes away.
class FlakyBackend final : public Backend {
 public:
  explicit FlakyBackend(std::unique_ptr<Backend> real) : real_(std::move(real)) {}
  absl::StatusOr<PublishResult> Publish(absl::string_view topic, v1::Envelope e) override {
    return real_->Publish(topic, std::move(e));
  }
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) override {
    ++subscribes;
    auto inner = real_->Subscribe(spec);
    if (!inner.ok() || subscribes > 1) return inner;
    return std::make_unique<FailingAfterOne>(*std::move(inner));
  }
  absl::Status Ack(absl::string_view id) override { return real_->Ack(id); }
  absl::Status Nack(absl::string_view id, absl::Duration d) override { return real_->Nack(id, d); }
  absl::StatusOr<MessagePtr> Request(absl::string_view topic, v1::Envelope e,
                                     absl::Time deadline) override {
    return real_->Request(topic, std::move(e), deadline);
  }
  std::atomic<int> subscribes{0};

 private:
  class FailingAfterOne final : public Subscription {
   public:
    explicit FailingAfterOne(std::unique_ptr<Subscription> inner) : inner_(std::move(inner)) {}
    uint64_t last_sequence() const override { return inner_->last_sequence(); }
    absl::StatusOr<std::vector<Delivery>> Next(size_t max, absl::Time deadline) override {
      if (delivered_) return absl::UnavailableError("engine went away");
      auto next = inner_->Next(1, deadline);
      if (next.ok() && !next->empty()) delivered_ = true;
      return next;
    }
    void Close() override { inner_->Close(); }

   private:
    std::unique_ptr<Subscription> inner_;
    bool delivered_ = false;
  };
  std::unique_ptr<Backend> real_;
};

TEST(BusTopicsTest, PumpSubscribesAgainAfterTheBusEndsItsSubscription) {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  ASSERT_TRUE(broker.ok());
  auto backend = std::make_shared<FlakyBackend>(*std::move(broker));
  BusTopics topics(backend);
  absl::Mutex mu;
  std::vector<std::string> seen;
  auto sub = topics.Subscribe("room.*", 0, [&](const pubsub::TopicMessagePtr& m) {
    absl::MutexLock lock(&mu);
    seen.push_back(m->topic + " " + m->data_json);
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(topics.Publish("room.a", R"({"n":1})").ok());
  ASSERT_TRUE(topics.Publish("room.b", R"("two")").ok());
  ASSERT_TRUE(topics.Publish("other.a", "3").ok());
  ASSERT_TRUE(topics.Publish("room.c", "[3]").ok());
  {
    absl::MutexLock lock(&mu);
    auto three = [&] { return seen.size() >= 3; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), absl::Seconds(10)));
    EXPECT_THAT(seen, ElementsAre(R"(room.a {"n":1})", R"(room.b "two")", "room.c [3]"));
  }
  EXPECT_EQ(backend->subscribes.load(), 2);
  topics.Unsubscribe(sub->id);
  ASSERT_TRUE(topics.Publish("room.d", "4").ok());
  absl::SleepFor(absl::Milliseconds(100));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.size(), 3u);
}

TEST(BusTopicsTest, NonJsonPayloadsBecomeJsonValues) {
  v1::Envelope text;
  text.set_datacontenttype("text/plain");
  text.set_binary_data("hi \"there\"");
  EXPECT_EQ(PayloadAsJson(text), R"("hi \"there\"")");
  v1::Envelope bytes;
  bytes.set_datacontenttype("application/octet-stream");
  bytes.set_binary_data(std::string("\x01\x02", 2));
  EXPECT_EQ(PayloadAsJson(bytes), R"("AQI=")");
  v1::Envelope bad_json;
  bad_json.set_datacontenttype("application/json");
  bad_json.set_binary_data("{not json");
  EXPECT_EQ(PayloadAsJson(bad_json), R"("e25vdCBqc29u")");
}

}  // namespace
}  // namespace kei::bus
