#include "cc/pubsub/topics_service.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_time.h"
#include "google/protobuf/struct.pb.h"

namespace kei::pubsub {

TopicsService::TopicsService(std::shared_ptr<TopicBackend> backend, TopicsServiceOptions options)
    : backend_(std::move(backend)), options_(options) {}

absl::Status TopicsService::Publish(Context& context, const v1::PublishRequest& request,
                                    v1::PublishResponse* response) {
  (void)context;
  std::string data;
  if (auto s = JsonCodec().Marshal(request.data(), &data); !s.ok()) return s;
  auto sequence = backend_->Publish(request.topic(), std::move(data));
  if (!sequence.ok()) return sequence.status();
  response->set_sequence(*sequence);
  return absl::OkStatus();
}

absl::Status TopicsService::Subscribe(Context& context, const v1::SubscribeRequest& request,
                                      StreamWriter<v1::TopicMessage>& stream) {
  // The backend's callback only queues (it runs on publishers' threads); this
  // handler's thread converts and writes.
  struct Queue {
    absl::Mutex mu;
    std::deque<TopicMessagePtr> messages ABSL_GUARDED_BY(mu);
    bool overflowed ABSL_GUARDED_BY(mu) = false;
  };
  auto queue = std::make_shared<Queue>();
  const size_t limit = options_.max_queued_messages;
  auto subscription = backend_->Subscribe(
      request.topic(), request.after_sequence(), [queue, limit](const TopicMessagePtr& message) {
        absl::MutexLock lock(&queue->mu);
        if (queue->messages.size() >= limit) {
          queue->overflowed = true;
          return;
        }
        queue->messages.push_back(message);
      });
  if (!subscription.ok()) return subscription.status();
  struct Unsubscribe {
    TopicBackend* backend;
    uint64_t id;
    ~Unsubscribe() { backend->Unsubscribe(id); }
  } unsubscribe{backend_.get(), subscription->id};
  // Wake the wait below when the call is cancelled.
  context.cancellation().OnCancel([queue] { absl::MutexLock lock(&queue->mu); });
  // Tell the caller the subscription is live, so it can publish or rely on
  // receiving what comes next.
  v1::TopicMessage marker;
  marker.set_topic(request.topic());
  marker.set_subscribed(true);
  marker.set_sequence(subscription->last_sequence);
  marker.set_first_sequence(subscription->first_sequence);
  if (!stream.Send(marker)) return absl::OkStatus();

  JsonCodec json;
  while (true) {
    std::deque<TopicMessagePtr> batch;
    {
      absl::MutexLock lock(&queue->mu);
      auto ready = [&] {
        return !queue->messages.empty() || queue->overflowed || context.cancelled();
      };
      queue->mu.AwaitWithDeadline(absl::Condition(&ready), context.deadline());
      if (context.cancelled()) return absl::OkStatus();
      if (queue->messages.empty() && queue->overflowed) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "subscriber fell more than ", limit, " messages behind topic '", request.topic(), "'"));
      }
      if (queue->messages.empty()) {
        return absl::DeadlineExceededError("deadline exceeded while waiting for messages");
      }
      batch.swap(queue->messages);
    }
    for (const TopicMessagePtr& message : batch) {
      v1::TopicMessage out;
      out.set_topic(message->topic);
      out.set_sequence(message->sequence);
      TimeToProto(message->time, out.mutable_time());
      if (auto s = json.Unmarshal(message->data_json, out.mutable_data()); !s.ok()) return s;
      if (!stream.Send(out)) return absl::OkStatus();
    }
  }
}

}  // namespace kei::pubsub
