// kei.bus.v1.Bus over any bus Backend, so gRPC, WebSocket and HTTP clients
// reach the embedded broker or NATS JetStream through the kit's one dispatch
// path (auth, deadlines, limits, metrics).
#pragma once

#include <memory>

#include "bus/backend.h"
#include "kei/bus/v1/bus.kei.h"

namespace kei::bus {

class BusService final : public v1::BusHandler {
 public:
  explicit BusService(std::shared_ptr<Backend> backend);

  absl::Status Publish(Context& context, const v1::PublishRequest& request,
                       v1::PublishResponse* response) override;
  absl::Status PublishBatch(Context& context, const v1::PublishBatchRequest& request,
                            v1::PublishBatchResponse* response) override;
  absl::Status PublishStream(
      Context& context,
      BidiStream<v1::PublishBatchRequest, v1::PublishBatchResponse>& stream) override;
  absl::Status Subscribe(Context& context, const v1::SubscribeRequest& request,
                         StreamWriter<v1::SubscribeResponse>& stream) override;
  absl::Status Ack(Context& context, const v1::AckRequest& request,
                   v1::AckResponse* response) override;
  absl::Status Nack(Context& context, const v1::NackRequest& request,
                    v1::NackResponse* response) override;
  absl::Status Request(Context& context, const v1::RequestRequest& request,
                       v1::RequestResponse* response) override;

 private:
  // Publishes `batch` (a serialized PublishBatchRequest) and answers with
  // its outcomes, in order.
  absl::Status Store(std::string batch, v1::PublishBatchResponse* response);

  std::shared_ptr<Backend> backend_;
};

// The backend's subscription for a Subscribe request (defaults applied).
absl::StatusOr<SubscribeSpec> SpecFromRequest(const v1::SubscribeRequest& request);
// A delivery as the wire carries it.
void DeliveryToProto(const Delivery& delivery, v1::Delivery* out);

}  // namespace kei::bus
