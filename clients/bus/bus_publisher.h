// BusPublisher: many publishes in flight from one producer, the way NATS
// clients buffer and JetStream's async publish pipelines. Publish queues and
// returns at once (blocking only while max_pending messages are unacknowledged,
// so a fast producer is held back, never buffered without bound); a few sender
// threads carry the queue to the server in PublishBatch calls of up to
// max_batch messages (and the server's kMaxPublishBatch) and max_batch_bytes
// (under every transport's message limit: gRPC's 4 MiB, WebSocket's 1 MiB
// frames). Ids are filled when a message is queued, so a retried batch is
// de-duplicated by the server. Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "clients/bus/kei_bus_client.h"

namespace kei {

struct BusPublisherOptions {
  size_t max_batch = 256;           // messages per PublishBatch call
  // Serialized bytes per PublishBatch call; a larger single message goes alone.
  size_t max_batch_bytes = 512 * 1024;
  // PublishBatch calls in flight at once. One keeps the publish order (the
  // next batch fills while one is in flight); more are faster, but batches
  // may then be stored out of order.
  int senders = 1;
  size_t max_pending = 8192;        // queued or in flight before Publish blocks
  CallOptions call_options;         // per PublishBatch call
};

class BusPublisher {
 public:
  using Callback = std::function<void(const absl::StatusOr<bus::v1::PublishResponse>&)>;

  // `client` must outlive the publisher.
  explicit BusPublisher(KEIBusClient& client, BusPublisherOptions options = {});
  // Sends what is queued, then stops.
  ~BusPublisher();
  BusPublisher(const BusPublisher&) = delete;
  BusPublisher& operator=(const BusPublisher&) = delete;

  // Queues `envelope` for `topic`; `done` (optional) gets the outcome on a
  // sender thread. Returns the envelope's id.
  std::string Publish(std::string topic, bus::v1::Envelope envelope, Callback done = nullptr);
  // Waits until everything queued before the call has its outcome.
  void Flush();
  // Publishes whose outcome was an error, so far.
  uint64_t failures() const;

 private:
  struct Item {
    bus::v1::PublishRequest request;
    size_t bytes = 0;  // serialized size of `request`
    Callback done;
  };
  void SendLoop();

  KEIBusClient& client_;
  const BusPublisherOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t unsettled_ ABSL_GUARDED_BY(mu_) = 0;  // queued or in flight
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> senders_;
};

}  // namespace kei
