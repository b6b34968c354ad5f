// The WebSocket/Topics seam (pubsub::TopicBackend) over the bus: topic frames
// and kei.v1.Topics calls become bus messages (JSON envelopes), so a WebSocket
// client, a gRPC Topics subscriber and a KEIBusClient see the same topics,
// sequences and retention, on the embedded broker or NATS alike.
#pragma once

#include <map>
#include <memory>
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
  // `topic` may be a bus pattern (`agent.*.events`). Each subscription has a
  // thread that pulls from the bus and calls `callback`; when the bus ends
  // its subscription (fell behind retention, engine unreachable) the thread
  // subscribes again after the last sequence it delivered.
  absl::StatusOr<pubsub::Subscription> Subscribe(absl::string_view topic, uint64_t after_sequence,
                                                 pubsub::TopicCallback callback) override;
  void Unsubscribe(uint64_t subscription_id) override;

 private:
  // What a pump thread and Unsubscribe share: the current bus subscription
  // (replaced when the pump subscribes again after a failure).
  struct PumpState {
    absl::Mutex mu;
    std::shared_ptr<Subscription> current ABSL_GUARDED_BY(mu);
    bool stopped ABSL_GUARDED_BY(mu) = false;
  };
  struct Pump {
    std::shared_ptr<PumpState> state;
    std::thread thread;
  };
  std::shared_ptr<Backend> backend_;
  absl::Mutex mu_;
  std::map<uint64_t, Pump> pumps_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

// A message's payload as one JSON value: JSON payloads as they are, text as a
// string, other bytes as a base64 string, protobuf payloads as proto3 JSON.
std::string PayloadAsJson(const v1::Envelope& envelope);

}  // namespace kei::bus
