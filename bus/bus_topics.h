// The WebSocket/Topics seam (pubsub::TopicBackend) over the bus: topic frames
// and kei.v1.Topics calls become bus messages (JSON envelopes), so a WebSocket
// client, a gRPC Topics subscriber and a KEIBusClient see the same topics,
// sequences and retention, on the embedded broker or NATS alike.
//
// Topic subscribers are many (10,000 WebSocket connections on one topic is a
// normal load), so they share: every distinct topic pattern has one feed, one
// bus subscription and one thread, that renders each message once and hands
// the same TopicMessage to all of the pattern's subscribers. A subscriber
// resuming behind the feed reads its own bus subscription until it reaches
// the feed's position, then joins the feed, with nothing missed or repeated.
// (On NATS, "reached" on a quiet topic means its ordered consumer had nothing
// more to deliver for a second.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "bus/backend.h"
#include "cc/pubsub/topic_backend.h"

namespace kei::bus {

class BusTopics final : public pubsub::TopicBackend {
 public:
  explicit BusTopics(std::shared_ptr<Backend> backend);
  // Ends every subscription.
  ~BusTopics() override;

  // Publishes `data_json` as an "application/json" envelope of type
  // "dev.kei.topic.message".
  absl::StatusOr<uint64_t> Publish(absl::string_view topic, std::string data_json) override;
  // `topic` may be a bus pattern (`agent.*.events`). When the bus ends a
  // feed's subscription (fell behind retention, engine unreachable), the
  // feed subscribes again after the last sequence it delivered.
  absl::StatusOr<pubsub::Subscription> Subscribe(absl::string_view topic, uint64_t after_sequence,
                                                 pubsub::TopicCallback callback) override;
  void Unsubscribe(uint64_t subscription_id) override;

  // Feeds running (one per pattern with subscribers) and subscribers still
  // catching up on their own, for tests and diagnostics.
  size_t feed_count() const;
  size_t catching_up_count() const;

 private:
  struct Feed;
  struct CatchUp;
  struct Member {
    std::shared_ptr<Feed> feed;
    std::shared_ptr<CatchUp> catch_up;  // null when it was not needed
  };

  absl::StatusOr<std::shared_ptr<Feed>> OpenFeed(const std::string& pattern);
  static void StopFeed(Feed& feed);
  static void StopCatchUp(CatchUp& catch_up);

  std::shared_ptr<Backend> backend_;
  mutable absl::Mutex mu_;  // before any Feed::mu
  std::map<std::string, std::shared_ptr<Feed>> feeds_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Member> members_ ABSL_GUARDED_BY(mu_);
  // Ids an Unsubscribe is still stopping: another Unsubscribe of the same id
  // waits for it, so neither returns while the callback may run.
  std::set<uint64_t> stopping_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

// A message's payload as one JSON value: JSON payloads as they are, text as a
// string, other bytes as a base64 string, protobuf payloads as proto3 JSON.
std::string PayloadAsJson(const v1::Envelope& envelope);

}  // namespace kei::bus
