#include "cc/pubsub/memory_topics.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kei::pubsub {

absl::Status ValidateTopicName(absl::string_view topic) {
  if (topic.empty() || topic.size() > 256) {
    return absl::InvalidArgumentError("topic: must be 1 to 256 characters");
  }
  for (char c : topic) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("topic: '", topic, "' may only contain letters, digits, '_', '.' and '-'"));
    }
  }
  if (topic.front() == '.' || topic.back() == '.') {
    return absl::InvalidArgumentError("topic: must not start or end with '.'");
  }
  return absl::OkStatus();
}

MemoryTopics::MemoryTopics(MemoryTopicsOptions options) : options_(options) {}

MemoryTopics::~MemoryTopics() = default;

std::shared_ptr<MemoryTopics::Topic> MemoryTopics::Find(absl::string_view topic, bool create) {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) return it->second;
  if (!create || topics_.size() >= options_.max_topics) return nullptr;
  auto created = std::make_shared<Topic>();
  topics_.emplace(std::string(topic), created);
  return created;
}

absl::StatusOr<uint64_t> MemoryTopics::Publish(absl::string_view topic, std::string data_json) {
  if (auto s = ValidateTopicName(topic); !s.ok()) return s;
  if (data_json.size() > options_.max_message_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "topic message of ", data_json.size(), " bytes exceeds ", options_.max_message_bytes));
  }
  std::shared_ptr<Topic> t = Find(topic, /*create=*/true);
  if (t == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", options_.max_topics, " topics"));
  }
  auto message = std::make_shared<TopicMessage>();
  message->topic = std::string(topic);
  message->data_json = std::move(data_json);
  const size_t bytes = message->data_json.size() + message->topic.size() + 32;
  TopicMessagePtr evicted;  // destroyed after the lock
  absl::MutexLock lock(&t->mu);
  message->sequence = ++t->last_sequence;
  message->time = absl::Now();
  TopicMessagePtr shared = std::move(message);
  t->retained.push_back(shared);
  t->retained_bytes += bytes;
  while (t->retained.size() > 1 && (t->retained.size() > options_.retain_messages ||
                                    t->retained_bytes > options_.retain_bytes)) {
    const TopicMessage& front = *t->retained.front();
    t->retained_bytes -= std::min(t->retained_bytes,
                                  front.data_json.size() + front.topic.size() + 32);
    evicted = std::move(t->retained.front());
    t->retained.pop_front();
  }
  for (const auto& [id, callback] : t->subscribers) callback(shared);
  return shared->sequence;
}

absl::StatusOr<Subscription> MemoryTopics::Subscribe(absl::string_view topic,
                                                     uint64_t after_sequence,
                                                     TopicCallback callback) {
  if (auto s = ValidateTopicName(topic); !s.ok()) return s;
  std::shared_ptr<Topic> t = Find(topic, /*create=*/true);
  if (t == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", options_.max_topics, " topics"));
  }
  Subscription subscription;
  {
    absl::MutexLock lock(&mu_);
    subscription.id = next_subscription_++;
    subscriptions_[subscription.id] = t;
  }
  absl::MutexLock lock(&t->mu);
  subscription.last_sequence = t->last_sequence;
  subscription.first_sequence = t->retained.empty() ? 0 : t->retained.front()->sequence;
  if (after_sequence > 0) {
    for (const auto& message : t->retained) {
      if (message->sequence > after_sequence) callback(message);
    }
  }
  t->subscribers.emplace(subscription.id, std::move(callback));
  return subscription;
}

void MemoryTopics::Unsubscribe(uint64_t subscription_id) {
  std::shared_ptr<Topic> t;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(subscription_id);
    if (it == subscriptions_.end()) return;
    t = std::move(it->second);
    subscriptions_.erase(it);
  }
  TopicCallback dropped;  // destroyed after the lock
  absl::MutexLock lock(&t->mu);
  auto it = t->subscribers.find(subscription_id);
  if (it == t->subscribers.end()) return;
  dropped = std::move(it->second);
  t->subscribers.erase(it);
}

size_t MemoryTopics::subscriber_count(absl::string_view topic) const {
  std::shared_ptr<Topic> t;
  {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return 0;
    t = it->second;
  }
  absl::MutexLock lock(&t->mu);
  return t->subscribers.size();
}

}  // namespace kei::pubsub
