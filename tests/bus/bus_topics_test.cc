// BusTopics, the WebSocket/Topics seam on the bus: JSON payloads both ways,
// wildcards, one shared feed per pattern however many subscribers it has,
// subscribers resuming behind the feed catching up on their own and then
// joining it (nothing missed, nothing repeated), and a feed that subscribes
// again when the bus ends its subscription (here: a backend whose first
// subscription fails after one delivery), without repeating what it delivered.
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bus/bus_topics.h"
#include "bus/embedded_broker.h"
#include "bus/log/memory_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei::bus {
namespace {

using ::testing::ElementsAre;

// A backend that passes everything to a real one; tests override Subscribe.
class DelegatingBackend : public Backend {
 public:
  explicit DelegatingBackend(std::shared_ptr<Backend> real) : real_(std::move(real)) {}
  absl::StatusOr<PublishResult> Publish(absl::string_view topic, v1::Envelope e) override {
    return real_->Publish(topic, std::move(e));
  }
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) override {
    return real_->Subscribe(spec);
  }
  absl::Status Ack(absl::string_view id) override { return real_->Ack(id); }
  absl::Status Nack(absl::string_view id, absl::Duration d) override { return real_->Nack(id, d); }
  absl::StatusOr<MessagePtr> Request(absl::string_view topic, v1::Envelope e,
                                     absl::Time deadline) override {
    return real_->Request(topic, std::move(e), deadline);
  }

 protected:
  std::shared_ptr<Backend> real_;
};

// The first subscription it hands out ends with UNAVAILABLE after its first
// delivery, as when an engine goes away.
class FlakyBackend final : public DelegatingBackend {
 public:
  using DelegatingBackend::DelegatingBackend;
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) override {
    ++subscribes;
    auto inner = real_->Subscribe(spec);
    if (!inner.ok() || subscribes > 1) return inner;
    return std::make_unique<FailingAfterOne>(*std::move(inner));
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

// Collects what one subscription receives.
struct Inbox {
  absl::Mutex mu;
  std::vector<pubsub::TopicMessagePtr> got ABSL_GUARDED_BY(mu);
  pubsub::TopicCallback Callback() {
    return [this](const pubsub::TopicMessagePtr& m) {
      absl::MutexLock lock(&mu);
      got.push_back(m);
    };
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return got.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  std::vector<uint64_t> Sequences() {
    absl::MutexLock lock(&mu);
    std::vector<uint64_t> out;
    for (const auto& m : got) out.push_back(m->sequence);
    return out;
  }
};

// Waits (up to 10 s) until no subscriber is still catching up.
bool AllJoined(const BusTopics& topics) {
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (topics.catching_up_count() > 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  return topics.catching_up_count() == 0;
}

std::shared_ptr<Backend> MemoryBroker() {
  auto broker = EmbeddedBroker::Open(std::make_unique<MemoryLog>());
  EXPECT_TRUE(broker.ok());
  return *std::move(broker);
}

TEST(BusTopicsTest, SubscribersOfOnePatternShareOneFeed) {
  BusTopics topics(MemoryBroker());
  constexpr int kSubscribers = 200;
  std::vector<std::unique_ptr<Inbox>> inboxes;
  std::vector<uint64_t> ids;
  for (int i = 0; i < kSubscribers; ++i) {
    inboxes.push_back(std::make_unique<Inbox>());
    auto sub = topics.Subscribe("room.x", 0, inboxes.back()->Callback());
    ASSERT_TRUE(sub.ok()) << sub.status();
    ids.push_back(sub->id);
  }
  Inbox wildcard;
  auto wild = topics.Subscribe("room.*", 0, wildcard.Callback());
  ASSERT_TRUE(wild.ok());
  EXPECT_EQ(topics.feed_count(), 2u);
  EXPECT_EQ(topics.catching_up_count(), 0u);

  std::vector<uint64_t> published;
  for (int i = 0; i < 3; ++i) {
    auto seq = topics.Publish("room.x", absl::StrCat("{\"n\":", i, "}"));
    ASSERT_TRUE(seq.ok());
    published.push_back(*seq);
  }
  for (auto& inbox : inboxes) {
    ASSERT_TRUE(inbox->WaitFor(3));
    EXPECT_EQ(inbox->Sequences(), published);
  }
  ASSERT_TRUE(wildcard.WaitFor(3));
  EXPECT_EQ(wildcard.Sequences(), published);
  {
    // Rendered once: every subscriber holds the same message.
    absl::MutexLock a(&inboxes[0]->mu), b(&inboxes[kSubscribers - 1]->mu);
    EXPECT_EQ(inboxes[0]->got[1].get(), inboxes[kSubscribers - 1]->got[1].get());
    EXPECT_EQ(inboxes[0]->got[1]->data_json, R"({"n":1})");
  }
  for (uint64_t id : ids) topics.Unsubscribe(id);
  EXPECT_EQ(topics.feed_count(), 1u);
  topics.Unsubscribe(wild->id);
  EXPECT_EQ(topics.feed_count(), 0u);
  EXPECT_FALSE(topics.Subscribe("bad pattern!", 0, [](const pubsub::TopicMessagePtr&) {}).ok());
  EXPECT_EQ(topics.feed_count(), 0u);
}

TEST(BusTopicsTest, ResumingSubscriberCatchesUpThenJoinsTheFeed) {
  BusTopics topics(MemoryBroker());
  Inbox live;
  auto live_sub = topics.Subscribe("chat", 0, live.Callback());
  ASSERT_TRUE(live_sub.ok());
  std::vector<uint64_t> seq;
  for (int i = 0; i < 5; ++i) seq.push_back(*topics.Publish("chat", absl::StrCat(i)));
  ASSERT_TRUE(live.WaitFor(5));  // the feed is at seq[4]

  // Resumes after seq[1]: behind the feed, so it catches up on its own.
  Inbox resumed;
  auto sub = topics.Subscribe("chat", seq[1], resumed.Callback());
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->last_sequence, seq[4]);
  ASSERT_TRUE(resumed.WaitFor(3));
  EXPECT_EQ(resumed.Sequences(), (std::vector<uint64_t>{seq[2], seq[3], seq[4]}));
  // It joins the feed once it has what the feed delivered; from then on one
  // feed serves both, with nothing missed or repeated.
  for (int i = 5; i < 8; ++i) seq.push_back(*topics.Publish("chat", absl::StrCat(i)));
  ASSERT_TRUE(resumed.WaitFor(6));
  EXPECT_TRUE(AllJoined(topics));
  seq.push_back(*topics.Publish("chat", "8"));
  ASSERT_TRUE(resumed.WaitFor(7));
  EXPECT_EQ(resumed.Sequences(), std::vector<uint64_t>(seq.begin() + 2, seq.end()));
  EXPECT_EQ(topics.feed_count(), 1u);

  // At or past the feed's position it joins at once, skipping what it has.
  Inbox current;
  auto at_head = topics.Subscribe("chat", seq.back(), current.Callback());
  ASSERT_TRUE(at_head.ok());
  EXPECT_EQ(topics.catching_up_count(), 0u);
  seq.push_back(*topics.Publish("chat", "9"));
  ASSERT_TRUE(current.WaitFor(1));
  EXPECT_EQ(current.Sequences(), std::vector<uint64_t>{seq.back()});

  topics.Unsubscribe(sub->id);
  topics.Unsubscribe(at_head->id);
  topics.Unsubscribe(live_sub->id);
  EXPECT_EQ(topics.feed_count(), 0u);
}

// A subscriber resuming on a quiet topic: the feed's position is the log's
// head (other topics moved it), which this subscriber will never see a
// message at; it joins once it has read everything there was.
TEST(BusTopicsTest, CatchUpOnAQuietTopicJoinsTheFeed) {
  BusTopics topics(MemoryBroker());
  const uint64_t quiet = *topics.Publish("quiet", "1");
  ASSERT_TRUE(topics.Publish("noise", "2").ok());
  Inbox live;
  auto live_sub = topics.Subscribe("quiet", 0, live.Callback());
  ASSERT_TRUE(live_sub.ok());
  Inbox resumed;
  auto sub = topics.Subscribe("quiet", quiet, resumed.Callback());  // behind: noise moved the head
  ASSERT_TRUE(sub.ok());
  EXPECT_TRUE(AllJoined(topics));
  const uint64_t next = *topics.Publish("quiet", "3");
  ASSERT_TRUE(live.WaitFor(1));
  ASSERT_TRUE(resumed.WaitFor(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(resumed.Sequences(), std::vector<uint64_t>{next});
  EXPECT_EQ(live.Sequences(), std::vector<uint64_t>{next});
  topics.Unsubscribe(sub->id);
  topics.Unsubscribe(live_sub->id);
}

// Hands out real subscriptions, except that the catch-up one (the first with
// a start sequence) stays silent: it never delivers, so it never joins.
class SilentCatchUpBackend final : public DelegatingBackend {
 public:
  using DelegatingBackend::DelegatingBackend;
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) override {
    if (spec.start.kind != StartPosition::Kind::kSequence) return real_->Subscribe(spec);
    return std::make_unique<Silent>();
  }

 private:
  class Silent final : public Subscription {
   public:
    uint64_t last_sequence() const override { return 0; }
    absl::StatusOr<std::vector<Delivery>> Next(size_t, absl::Time deadline) override {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(&closed_), deadline);
      if (closed_) return absl::CancelledError("closed");
      return std::vector<Delivery>{};
    }
    void Close() override {
      absl::MutexLock lock(&mu_);
      closed_ = true;
    }

   private:
    absl::Mutex mu_;
    bool closed_ = false;
  };
};

TEST(BusTopicsTest, UnsubscribeStopsACatchUpThatNeverJoined) {
  BusTopics topics(std::make_shared<SilentCatchUpBackend>(MemoryBroker()));
  const uint64_t first = *topics.Publish("quiet", "1");
  ASSERT_TRUE(topics.Publish("quiet", "2").ok());
  Inbox live;
  auto live_sub = topics.Subscribe("quiet", 0, live.Callback());
  ASSERT_TRUE(live_sub.ok());
  Inbox behind;
  auto sub = topics.Subscribe("quiet", first, behind.Callback());
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(topics.catching_up_count(), 1u);
  absl::SleepFor(absl::Milliseconds(1500));  // longer than a reader's wait
  EXPECT_EQ(topics.catching_up_count(), 1u);  // silent, at head 0: never joins
  topics.Unsubscribe(sub->id);  // returns only when its reader is done
  EXPECT_EQ(topics.catching_up_count(), 0u);
  ASSERT_TRUE(topics.Publish("quiet", "3").ok());
  ASSERT_TRUE(live.WaitFor(1));
  EXPECT_TRUE(behind.Sequences().empty());
  EXPECT_EQ(topics.feed_count(), 1u);
  topics.Unsubscribe(live_sub->id);
  EXPECT_EQ(topics.feed_count(), 0u);
}

// Two Unsubscribes of one id racing while its callback runs: neither returns
// before the callback is over (the second waits for the first).
TEST(BusTopicsTest, ConcurrentUnsubscribesBothWaitForTheCallback) {
  BusTopics topics(MemoryBroker());
  std::atomic<bool> in_callback{false};
  absl::Notification entered;
  auto sub = topics.Subscribe("slow", 0, [&](const pubsub::TopicMessagePtr&) {
    in_callback = true;
    entered.Notify();
    absl::SleepFor(absl::Milliseconds(300));
    in_callback = false;
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(topics.Publish("slow", "1").ok());
  entered.WaitForNotification();
  std::atomic<int> returned_during_callback{0};
  std::vector<std::thread> unsubscribers;
  for (int i = 0; i < 2; ++i) {
    unsubscribers.emplace_back([&] {
      topics.Unsubscribe(sub->id);
      if (in_callback.load()) ++returned_during_callback;
    });
  }
  for (auto& t : unsubscribers) t.join();
  EXPECT_EQ(returned_during_callback.load(), 0);
  EXPECT_EQ(topics.feed_count(), 0u);
}

// Subscribers come and go from several threads, resuming from assorted
// points, while messages flow: every subscription sees increasing sequences,
// nothing deadlocks, and every feed is gone at the end.
TEST(BusTopicsTest, ConcurrentSubscribersWhilePublishing) {
  BusTopics topics(MemoryBroker());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last_published{0};
  std::thread publisher([&] {
    for (int i = 0; i < 2000 && !stop.load(); ++i) {
      auto seq = topics.Publish(i % 2 ? "load.a" : "load.b", absl::StrCat(i));
      if (seq.ok()) last_published = *seq;
      if (i % 50 == 0) absl::SleepFor(absl::Milliseconds(1));
    }
  });
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int round = 0; round < 30; ++round) {
        auto last = std::make_shared<std::atomic<uint64_t>>(0);
        const char* pattern = (round + t) % 3 == 0 ? "load.*" : (round % 2 ? "load.a" : "load.b");
        uint64_t after = rng() % 2 ? 0 : last_published.load() / (1 + rng() % 3);
        auto sub = topics.Subscribe(pattern, after, [last, &out_of_order](const auto& m) {
          if (m->sequence <= last->load()) ++out_of_order;
          last->store(m->sequence);
        });
        if (!sub.ok()) continue;
        absl::SleepFor(absl::Milliseconds(rng() % 5));
        topics.Unsubscribe(sub->id);
      }
    });
  }
  for (auto& c : clients) c.join();
  stop = true;
  publisher.join();
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_EQ(topics.feed_count(), 0u);
  EXPECT_EQ(topics.catching_up_count(), 0u);
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
