#include "bus/bus_topics.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "bus/subject.h"
#include "cc/codec/json_codec.h"
#include "nlohmann/json.hpp"

namespace kei::bus {
namespace {

constexpr absl::string_view kJsonContentType = "application/json";
// Deliveries taken from the bus at once.
constexpr size_t kBatch = 256;
// How long a reader waits for messages before it looks at whether it should stop.
constexpr absl::Duration kPumpWait = absl::Seconds(1);
// How long a reader whose subscription failed waits before subscribing again.
constexpr absl::Duration kResubscribeDelay = absl::Milliseconds(200);

bool IsJsonContentType(absl::string_view type) {
  type = type.substr(0, type.find(';'));
  return type == kJsonContentType || absl::EndsWith(type, "+json");
}

std::string JsonString(absl::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string PayloadAsJson(const v1::Envelope& envelope) {
  if (envelope.has_proto_data()) {
    std::string json;
    if (JsonCodec().Marshal(envelope.proto_data(), &json).ok()) return json;
    return JsonString(absl::Base64Escape(envelope.proto_data().value()));
  }
  const std::string& data = envelope.binary_data();
  if (IsJsonContentType(envelope.datacontenttype())) {
    if (nlohmann::json::accept(data)) return data;
  } else if (absl::StartsWith(envelope.datacontenttype(), "text/")) {
    return JsonString(data);
  }
  return JsonString(absl::Base64Escape(data));
}

struct BusTopics::Feed {
  explicit Feed(std::string p) : pattern(std::move(p)) {}
  const std::string pattern;
  // Held while delivering, so a subscriber removed under it gets no more calls.
  absl::Mutex mu;
  std::shared_ptr<Subscription> current ABSL_GUARDED_BY(mu);
  // Every matching message up to `position` was delivered or predates the
  // feed; the feed delivers exactly what comes after it.
  uint64_t position ABSL_GUARDED_BY(mu) = 0;
  uint64_t first_sequence ABSL_GUARDED_BY(mu) = 0;  // oldest retained when it opened
  struct Subscriber {
    uint64_t skip_through;  // already has everything up to this sequence
    pubsub::TopicCallback callback;
  };
  std::map<uint64_t, Subscriber> subscribers ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // Subscribers plus catch-ups still to join; guarded by BusTopics::mu_.
  size_t members = 0;
  std::thread thread;
};

struct BusTopics::CatchUp {
  absl::Mutex mu;
  std::shared_ptr<Subscription> current ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // The (detached) thread touches nothing but this object any more.
  bool done ABSL_GUARDED_BY(mu) = false;
};

namespace {

// New messages only (sequence 0), or those after `sequence`.
SubscribeSpec SpecAfter(const std::string& pattern, uint64_t sequence) {
  SubscribeSpec spec;
  spec.pattern = pattern;
  spec.accepts_requests = false;  // topic frames cannot reply
  if (sequence > 0) {
    spec.start.kind = StartPosition::Kind::kSequence;
    spec.start.sequence = sequence + 1;
  }
  return spec;
}

// Everything after `sequence`, from the oldest retained message when it is 0.
SubscribeSpec SpecFrom(const std::string& pattern, uint64_t sequence) {
  SubscribeSpec spec = SpecAfter(pattern, sequence);
  spec.start.kind = StartPosition::Kind::kSequence;
  spec.start.sequence = sequence + 1;
  return spec;
}

pubsub::TopicMessagePtr ToTopicMessage(const Delivery& delivery) {
  auto message = std::make_shared<pubsub::TopicMessage>();
  message->topic = delivery.message->topic;
  message->sequence = delivery.message->sequence;
  message->time = delivery.message->publish_time;
  message->data_json = PayloadAsJson(delivery.message->envelope());
  return message;
}

// The next deliveries of `reader` (a Feed or a CatchUp): none when it waited
// in vain (then *drained is set: it has read everything there was) or its
// subscription ended, in which case, after a pause, it subscribes again after
// `position`; nullopt once the reader is stopped.
template <typename Reader>
std::optional<std::vector<Delivery>> NextBatch(Backend& backend, const std::string& pattern,
                                               Reader& reader, uint64_t position,
                                               bool* drained = nullptr) {
  if (drained != nullptr) *drained = false;
  std::shared_ptr<Subscription> subscription;
  {
    absl::MutexLock lock(&reader.mu);
    if (reader.stopped) return std::nullopt;
    subscription = reader.current;
  }
  auto deliveries = subscription->Next(kBatch, absl::Now() + kPumpWait);
  if (deliveries.ok()) {
    if (drained != nullptr) *drained = deliveries->empty();
    return *std::move(deliveries);
  }
  // Fell behind retention, or the engine went away: subscribe again after
  // what was delivered (a gap is possible then, and the sequences show it).
  {
    absl::MutexLock lock(&reader.mu);
    auto stopped = [&reader]() ABSL_SHARED_LOCKS_REQUIRED(reader.mu) { return reader.stopped; };
    if (reader.mu.AwaitWithTimeout(absl::Condition(&stopped), kResubscribeDelay)) {
      return std::nullopt;
    }
  }
  auto reopened = backend.Subscribe(SpecFrom(pattern, position));  // no lock held: may be slow
  if (!reopened.ok()) return std::vector<Delivery>{};
  absl::MutexLock lock(&reader.mu);
  if (reader.stopped) {
    (*reopened)->Close();
    return std::nullopt;
  }
  reader.current = *std::move(reopened);
  return std::vector<Delivery>{};
}

}  // namespace

BusTopics::BusTopics(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}

BusTopics::~BusTopics() {
  std::vector<uint64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, member] : members_) ids.push_back(id);
  }
  for (uint64_t id : ids) Unsubscribe(id);
}

absl::StatusOr<uint64_t> BusTopics::Publish(absl::string_view topic, std::string data_json) {
  v1::Envelope envelope;
  envelope.set_source("kei://topics");
  envelope.set_type("dev.kei.topic.message");
  envelope.set_datacontenttype(std::string(kJsonContentType));
  envelope.set_binary_data(std::move(data_json));
  auto result = backend_->Publish(topic, std::move(envelope));
  if (!result.ok()) return result.status();
  return result->sequence;
}

absl::StatusOr<std::shared_ptr<BusTopics::Feed>> BusTopics::OpenFeed(const std::string& pattern) {
  auto opened = backend_->Subscribe(SpecAfter(pattern, 0));
  if (!opened.ok()) return opened.status();
  auto feed = std::make_shared<Feed>(pattern);
  {
    absl::MutexLock lock(&feed->mu);
    feed->current = *std::move(opened);
    feed->position = feed->current->last_sequence();
    feed->first_sequence = feed->current->first_sequence();
  }
  feed->thread = std::thread([backend = backend_, feed = feed.get()] {
    std::vector<pubsub::TopicMessagePtr> messages;
    while (true) {
      uint64_t position;
      {
        absl::MutexLock lock(&feed->mu);
        position = feed->position;
      }
      auto batch = NextBatch(*backend, feed->pattern, *feed, position);
      if (!batch) return;
      if (batch->empty()) continue;
      // Rendered once, shared by every subscriber.
      messages.clear();
      for (const Delivery& d : *batch) messages.push_back(ToTopicMessage(d));
      absl::MutexLock lock(&feed->mu);
      for (const pubsub::TopicMessagePtr& message : messages) {
        if (message->sequence <= feed->position) continue;
        for (auto& [id, subscriber] : feed->subscribers) {
          if (message->sequence > subscriber.skip_through) subscriber.callback(message);
        }
        feed->position = message->sequence;
      }
    }
  });
  return feed;
}

void BusTopics::StopFeed(Feed& feed) {
  {
    absl::MutexLock lock(&feed.mu);
    feed.stopped = true;
    feed.current->Close();
  }
  if (feed.thread.joinable()) feed.thread.join();
}

void BusTopics::StopCatchUp(CatchUp& catch_up) {
  absl::MutexLock lock(&catch_up.mu);
  catch_up.stopped = true;
  if (catch_up.current != nullptr) catch_up.current->Close();
  auto done = [&catch_up]() ABSL_SHARED_LOCKS_REQUIRED(catch_up.mu) { return catch_up.done; };
  catch_up.mu.Await(absl::Condition(&done));
}

absl::StatusOr<pubsub::Subscription> BusTopics::Subscribe(absl::string_view topic,
                                                          uint64_t after_sequence,
                                                          pubsub::TopicCallback callback) {
  const std::string pattern(topic);
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Feed> feed;
  if (auto it = feeds_.find(pattern); it != feeds_.end()) {
    feed = it->second;
  } else {
    // The first subscriber of a pattern opens its feed (and learns about a
    // bad pattern or an unreachable engine).
    auto opened = OpenFeed(pattern);
    if (!opened.ok()) return opened.status();
    feed = *std::move(opened);
  }
  pubsub::Subscription out;
  out.id = next_id_++;
  Member member{feed, nullptr};
  absl::Status failed;
  {
    absl::MutexLock feed_lock(&feed->mu);
    out.last_sequence = feed->position;
    out.first_sequence = feed->first_sequence;
    if (after_sequence >= feed->position || after_sequence == 0) {
      feed->subscribers[out.id] = Feed::Subscriber{after_sequence, std::move(callback)};
    } else if (auto opened = backend_->Subscribe(SpecAfter(pattern, after_sequence));
               !opened.ok()) {
      failed = opened.status();
    } else {
      // Behind the feed: read on its own until it reaches the feed, then join.
      std::shared_ptr<Subscription> own = *std::move(opened);
      out.last_sequence = own->last_sequence();
      out.first_sequence = own->first_sequence();
      const uint64_t own_head = own->last_sequence();  // >= the feed's start
      member.catch_up = std::make_shared<CatchUp>();
      {
        absl::MutexLock catch_up_lock(&member.catch_up->mu);
        member.catch_up->current = std::move(own);
      }
      std::thread([backend = backend_, feed, catch_up = member.catch_up, id = out.id,
                   after_sequence, own_head, callback = std::move(callback)]() mutable {
        uint64_t delivered = after_sequence;
        while (true) {
          bool drained = false;
          auto batch = NextBatch(*backend, feed->pattern, *catch_up, delivered, &drained);
          if (!batch) break;
          for (const Delivery& d : *batch) {
            if (d.message->sequence <= delivered) continue;
            callback(ToTopicMessage(d));
            delivered = d.message->sequence;
          }
          // Join once the feed has delivered nothing this reader has not:
          // its position is at most what this reader delivered, or (on a
          // quiet topic) at most the log's head when this reader opened, and
          // this reader found nothing more to read (an empty batch after
          // waiting: it read through that head). Later messages come from the
          // feed; skip_through drops those this reader already delivered.
          absl::MutexLock feed_lock(&feed->mu);
          if (delivered < feed->position && !(drained && own_head >= feed->position)) continue;
          absl::MutexLock catch_up_lock(&catch_up->mu);
          if (catch_up->stopped) break;
          feed->subscribers[id] = Feed::Subscriber{delivered, std::move(callback)};
          break;
        }
        // Leave nothing behind that needs the bus or the caller's objects.
        callback = nullptr;
        feed.reset();
        backend.reset();
        std::shared_ptr<Subscription> own;
        absl::MutexLock catch_up_lock(&catch_up->mu);
        own = std::move(catch_up->current);
        if (own != nullptr) own->Close();
        own.reset();
        catch_up->done = true;
      }).detach();
    }
  }
  if (!failed.ok()) {
    if (feed->members == 0) StopFeed(*feed);
    return failed;
  }
  ++feed->members;
  feeds_[pattern] = feed;
  members_[out.id] = std::move(member);
  return out;
}

void BusTopics::Unsubscribe(uint64_t subscription_id) {
  Member member;
  bool last = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = members_.find(subscription_id);
    if (it == members_.end()) {
      auto stopped = [this, subscription_id]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_.count(subscription_id) == 0;
      };
      mu_.Await(absl::Condition(&stopped));
      return;
    }
    member = std::move(it->second);
    members_.erase(it);
    stopping_.insert(subscription_id);
    if (--member.feed->members == 0) {
      last = true;
      feeds_.erase(member.feed->pattern);
    }
  }
  // A catch-up first: once it is done it has joined the feed or never will.
  if (member.catch_up != nullptr) StopCatchUp(*member.catch_up);
  {
    absl::MutexLock lock(&member.feed->mu);
    member.feed->subscribers.erase(subscription_id);
  }
  if (last) StopFeed(*member.feed);
  absl::MutexLock lock(&mu_);
  stopping_.erase(subscription_id);
}

size_t BusTopics::feed_count() const {
  absl::MutexLock lock(&mu_);
  return feeds_.size();
}

size_t BusTopics::catching_up_count() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, member] : members_) {
    if (member.catch_up == nullptr) continue;
    absl::MutexLock catch_up_lock(&member.catch_up->mu);
    if (!member.catch_up->done) ++n;
  }
  return n;
}

}  // namespace kei::bus
