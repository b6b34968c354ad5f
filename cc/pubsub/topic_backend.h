// Topics: named streams of JSON messages, fanned out to every subscriber, each
// topic keeping its latest messages so a subscriber that comes back can resume
// from the last sequence it saw. This interface is the seam between the
// protocol adapters (WebSocket frames, the kei.v1.Topics service over gRPC and
// HTTP) and what carries the messages: MemoryTopics in-process, or the bus
// (bus/bus_topics.h, what keid uses).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kei::pubsub {

struct TopicMessage {
  std::string topic;
  uint64_t sequence = 0;  // increasing per topic (MemoryTopics: 1, 2, ...)
  absl::Time time;
  std::string data_json;  // one JSON value
};
using TopicMessagePtr = std::shared_ptr<const TopicMessage>;

// Called for each message of a subscription, in sequence order, never
// concurrently for one subscription. It runs on the publisher's thread, so it
// must be quick and must not call back into the backend (queue and return).
using TopicCallback = std::function<void(const TopicMessagePtr&)>;

struct Subscription {
  uint64_t id = 0;
  // The topic's newest sequence when the subscription started (0: none yet).
  uint64_t last_sequence = 0;
  // The oldest sequence still retained (0: none); a resume point below
  // first_sequence - 1 means messages were missed.
  uint64_t first_sequence = 0;
};

class TopicBackend {
 public:
  virtual ~TopicBackend() = default;

  // Publishes `data_json` (a JSON value) and returns its sequence.
  // INVALID_ARGUMENT for a bad topic name; RESOURCE_EXHAUSTED past limits.
  virtual absl::StatusOr<uint64_t> Publish(absl::string_view topic, std::string data_json) = 0;

  // Delivers the retained messages with sequence > after_sequence (none when
  // after_sequence is 0), then every new one, until Unsubscribe.
  virtual absl::StatusOr<Subscription> Subscribe(absl::string_view topic,
                                                 uint64_t after_sequence,
                                                 TopicCallback callback) = 0;

  // Stops a subscription; once it returns, its callback is not running and
  // will not run again. Unknown ids are ignored.
  virtual void Unsubscribe(uint64_t subscription_id) = 0;
};

// Topic names: 1-256 characters of [A-Za-z0-9_.-] (no wildcards: the bus
// adds those), not starting or ending with '.'.
absl::Status ValidateTopicName(absl::string_view topic);

}  // namespace kei::pubsub
