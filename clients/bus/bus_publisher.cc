#include "clients/bus/bus_publisher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bus/backend.h"
#include "bus/envelope.h"

namespace kei {

BusPublisher::BusPublisher(KEIBusClient& client, BusPublisherOptions options)
    : client_(client), options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.senders); ++i) {
    senders_.emplace_back([this] { SendLoop(); });
  }
}

BusPublisher::~BusPublisher() {
  Flush();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : senders_) t.join();
}

std::string BusPublisher::Publish(std::string topic, bus::v1::Envelope envelope, Callback done) {
  bus::FillEnvelopeDefaults(envelope, absl::Now());
  std::string id = envelope.id();
  Item item;
  item.request.set_topic(std::move(topic));
  *item.request.mutable_envelope() = std::move(envelope);
  item.bytes = item.request.ByteSizeLong();
  item.done = std::move(done);
  absl::MutexLock lock(&mu_);
  auto room = [this] { return unsettled_ < std::max<size_t>(options_.max_pending, 1); };
  mu_.Await(absl::Condition(&room));
  queue_.push_back(std::move(item));
  ++unsettled_;
  return id;
}

void BusPublisher::Flush() {
  absl::MutexLock lock(&mu_);
  auto settled = [this] { return unsettled_ == 0; };
  mu_.Await(absl::Condition(&settled));
}

uint64_t BusPublisher::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

void BusPublisher::SendLoop() {
  while (true) {
    std::vector<Item> items;
    {
      absl::MutexLock lock(&mu_);
      auto work = [this] { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&work));
      if (queue_.empty()) return;
      const size_t n = std::min(
          {queue_.size(), std::max<size_t>(options_.max_batch, 1), bus::kMaxPublishBatch});
      items.reserve(n);
      size_t bytes = 0;
      while (items.size() < n &&
             (items.empty() || bytes + queue_.front().bytes <= options_.max_batch_bytes)) {
        bytes += queue_.front().bytes;
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    bus::v1::PublishBatchRequest request;
    for (Item& item : items) request.add_messages()->Swap(&item.request);
    auto response = client_.PublishBatch(std::move(request), options_.call_options);
    if (response.ok() && response->outcomes_size() != static_cast<int>(items.size())) {
      response = absl::InternalError(absl::StrCat("the server answered ", response->outcomes_size(),
                                                  " outcomes for ", items.size(), " messages"));
    }
    uint64_t failed = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      absl::StatusOr<bus::v1::PublishResponse> outcome;
      if (!response.ok()) {
        outcome = response.status();
      } else if (const auto& o = response->outcomes(static_cast<int>(i)); o.code() != 0) {
        outcome = absl::Status(static_cast<absl::StatusCode>(o.code()), o.message());
      } else {
        outcome = o.response();
      }
      if (!outcome.ok()) ++failed;
      if (items[i].done) items[i].done(outcome);
    }
    absl::MutexLock lock(&mu_);
    failures_ += failed;
    unsettled_ -= items.size();
  }
}

}  // namespace kei
