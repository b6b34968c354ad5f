// The in-process TopicBackend: per-topic retention rings and subscriber lists
// behind one lock per topic, so publishing to one topic never waits for
// another. Bounded in every dimension (topics, retained messages and bytes per
// topic, message size).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "cc/pubsub/topic_backend.h"

namespace kei::pubsub {

struct MemoryTopicsOptions {
  size_t max_topics = 10000;
  size_t retain_messages = 1024;        // per topic
  size_t retain_bytes = 4 * 1024 * 1024;  // per topic
  size_t max_message_bytes = 1024 * 1024;
};

class MemoryTopics final : public TopicBackend {
 public:
  explicit MemoryTopics(MemoryTopicsOptions options = {});
  ~MemoryTopics() override;

  absl::StatusOr<uint64_t> Publish(absl::string_view topic, std::string data_json) override;
  absl::StatusOr<Subscription> Subscribe(absl::string_view topic, uint64_t after_sequence,
                                         TopicCallback callback) override;
  void Unsubscribe(uint64_t subscription_id) override;

  // Subscribers of `topic` right now; for tests and metrics.
  size_t subscriber_count(absl::string_view topic) const;

 private:
  struct Topic {
    absl::Mutex mu;
    uint64_t last_sequence ABSL_GUARDED_BY(mu) = 0;
    std::deque<TopicMessagePtr> retained ABSL_GUARDED_BY(mu);
    size_t retained_bytes ABSL_GUARDED_BY(mu) = 0;
    std::map<uint64_t, TopicCallback> subscribers ABSL_GUARDED_BY(mu);
  };
  // The topic, created on first use; null past max_topics.
  std::shared_ptr<Topic> Find(absl::string_view topic, bool create);

  const MemoryTopicsOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<Topic>> subscriptions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_subscription_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace kei::pubsub
