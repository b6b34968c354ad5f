// BusPublisher: many publishes in flight from one producer, the way NATS
// clients buffer and JetStream's async publish pipelines. Publish queues and
// returns at once (blocking only while max_pending messages are unacknowledged,
// so a fast producer is held back, never buffered without bound); a sender
// thread carries the queue to the server in batches of up to max_batch
// messages (and the server's kMaxPublishBatch) and max_batch_bytes (under
// every transport's message limit: gRPC's 4 MiB, WebSocket's 1 MiB frames).
//
// Batches travel on one Bus.PublishStream, up to max_batches_in_flight of
// them before the first outcome is back; the server stores them in arrival
// order, so publish order holds. If the stream fails, the batches without an
// outcome are sent again as PublishBatch calls (retried by the client's
// policy), in order, before anything newer, and a later batch opens a new
// stream. Ids are filled when a message is queued, so a batch the server
// already stored is recognised as a duplicate, never stored twice. A server
// without PublishStream (UNIMPLEMENTED) gets PublishBatch calls, one at a
// time. Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "clients/bus/kei_bus_client.h"

namespace kei {

struct BusPublisherOptions {
  size_t max_batch = 256;           // messages per batch
  // Serialized bytes per batch; a larger single message goes alone.
  size_t max_batch_bytes = 512 * 1024;
  // Batches sent before the oldest one's outcome came back. A batch goes at
  // once when none is in flight, and behind others only when it is full
  // (max_batch or max_batch_bytes), so batches stay large while the stream is
  // busy and a message waits at most one round trip. 1 waits for each outcome
  // before sending the next batch.
  size_t max_batches_in_flight = 4;
  size_t max_pending = 8192;        // queued or in flight before Publish blocks
  // Metadata for the stream and the calls. The timeout or deadline (default:
  // the client's default timeout) bounds the wait for each batch's outcome on
  // the stream (past it the stream is abandoned and the batch resent as a
  // call) and each PublishBatch call.
  CallOptions call_options;
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

  // Queues `envelope` for `topic`; `done` (optional) gets the outcome on one of
  // the publisher's threads, so it must not wait for the publisher (Flush, or
  // Publish while max_pending are unsettled). Returns the envelope's id.
  std::string Publish(std::string topic, bus::v1::Envelope envelope, Callback done = nullptr);
  // Waits until everything queued before the call has its outcome.
  void Flush();
  // Publishes whose outcome was an error, so far.
  uint64_t failures() const;

 private:
  // Messages are serialized as they are published, so the caller's envelope
  // is done with at once and a batch is its messages' bytes put together.
  struct Item {
    std::string bytes;  // one PublishBatchRequest.messages entry, tag included
    Callback done;
  };
  // Messages sent together, kept until their outcomes arrive (to be resent
  // as a call if the stream fails first).
  struct Batch {
    std::string bytes;  // a serialized PublishBatchRequest

    std::vector<Callback> done;
    absl::Time outcome_due = absl::InfiniteFuture();
  };
  // The stream batches travel on while it works: the receiver reads outcomes,
  // the watchdog cancels the stream when an outcome is overdue (even while
  // the sender is blocked in a write).
  struct Pipeline {
    std::unique_ptr<ClientStream> stream;
    std::thread receiver;
    std::thread watchdog;
  };

  void SendLoop();
  // Sends `batch` on the pipeline, opening it first if needed; false when it
  // could not (the batch then still needs sending).
  bool SendOnStream(Batch& batch);
  void ReceiveLoop(ClientStream* stream);
  void WatchLoop(ClientStream* stream);
  // Ends the pipeline (half-closing it first when `drain`: the server answers
  // what it has) and sends the batches it left without outcomes as calls.
  void EndPipeline(bool drain);
  // One batch as a PublishBatch call.
  void SendAsCall(Batch& batch);
  // Hands `response` (or the batch's failure, when `status` is not OK) to
  // the batch's callbacks and counts the batch settled.
  void Settle(Batch& batch, const absl::Status& status,
              const bus::v1::PublishBatchResponse& response);

  KEIBusClient& client_;
  const BusPublisherOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of queue_'s requests
  std::deque<Batch> in_flight_ ABSL_GUARDED_BY(mu_);  // sent on the stream, oldest first
  bool stream_failed_ ABSL_GUARDED_BY(mu_) = false;    // the pipeline's stream is done for
  bool writing_ ABSL_GUARDED_BY(mu_) = false;          // in_flight_.back() is being written
  bool pipeline_ending_ ABSL_GUARDED_BY(mu_) = false;  // stops the watchdog
  // When a half-closed stream must have ended.
  absl::Time close_due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool use_calls_ ABSL_GUARDED_BY(mu_) = false;        // the server has no PublishStream
  size_t unsettled_ ABSL_GUARDED_BY(mu_) = 0;          // queued or in flight
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Pipeline pipeline_;  // the sender thread's
  std::thread sender_;
};

}  // namespace kei
