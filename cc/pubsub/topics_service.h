// kei.v1.Topics over any TopicBackend, so gRPC and HTTP clients publish and
// subscribe to the same topics WebSocket clients do, through the same
// interceptors (auth, limits, metrics).
#pragma once

#include <memory>

#include "cc/pubsub/topic_backend.h"
#include "kei/v1/stream.kei.h"

namespace kei::pubsub {

struct TopicsServiceOptions {
  // Messages a Subscribe stream may have queued for a slow reader before it
  // ends with RESOURCE_EXHAUSTED (the publisher never waits for a reader).
  size_t max_queued_messages = 4096;
};

class TopicsService final : public v1::TopicsHandler {
 public:
  explicit TopicsService(std::shared_ptr<TopicBackend> backend,
                         TopicsServiceOptions options = {});

  absl::Status Publish(Context& context, const v1::PublishRequest& request,
                       v1::PublishResponse* response) override;
  absl::Status Subscribe(Context& context, const v1::SubscribeRequest& request,
                         StreamWriter<v1::TopicMessage>& stream) override;

 private:
  std::shared_ptr<TopicBackend> backend_;
  TopicsServiceOptions options_;
};

}  // namespace kei::pubsub
