#include "clients/bus/bus_publisher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bus/backend.h"
#include "bus/envelope.h"
#include "cc/codec/reusable_arena.h"
#include "google/protobuf/io/coded_stream.h"

namespace kei {
namespace {

using google::protobuf::io::CodedOutputStream;

// `topic` and `envelope` as one entry of PublishBatchRequest.messages: the
// field's tag and length, then the PublishRequest (topic = 1, envelope = 2).
std::string BatchEntry(absl::string_view topic, const bus::v1::Envelope& envelope) {
  const size_t envelope_size = envelope.ByteSizeLong();
  const size_t request_size =
      (topic.empty() ? 0 : 1 + CodedOutputStream::VarintSize64(topic.size()) + topic.size()) + 1 +
      CodedOutputStream::VarintSize64(envelope_size) + envelope_size;
  std::string entry(1 + CodedOutputStream::VarintSize64(request_size) + request_size, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(entry.data());
  *p++ = 1 << 3 | 2;  // messages
  p = CodedOutputStream::WriteVarint64ToArray(request_size, p);
  if (!topic.empty()) {
    *p++ = 1 << 3 | 2;  // topic
    p = CodedOutputStream::WriteVarint64ToArray(topic.size(), p);
    p = CodedOutputStream::WriteRawToArray(topic.data(), static_cast<int>(topic.size()), p);
  }
  *p++ = 2 << 3 | 2;  // envelope
  p = CodedOutputStream::WriteVarint64ToArray(envelope_size, p);
  envelope.SerializeWithCachedSizesToArray(p);
  return entry;
}

}  // namespace

BusPublisher::BusPublisher(KEIBusClient& client, BusPublisherOptions options)
    : client_(client), options_(std::move(options)) {
  sender_ = std::thread([this] { SendLoop(); });
}

BusPublisher::~BusPublisher() {
  Flush();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  sender_.join();
}

std::string BusPublisher::Publish(std::string topic, bus::v1::Envelope envelope, Callback done) {
  bus::FillEnvelopeDefaults(envelope, absl::Now());
  std::string id = envelope.id();
  Item item;
  item.bytes = BatchEntry(topic, envelope);
  item.done = std::move(done);
  absl::MutexLock lock(&mu_);
  auto room = [this] { return unsettled_ < std::max<size_t>(options_.max_pending, 1); };
  mu_.Await(absl::Condition(&room));
  queued_bytes_ += item.bytes.size();
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
  const size_t max_in_flight = std::max<size_t>(options_.max_batches_in_flight, 1);
  const size_t max_batch = std::min(std::max<size_t>(options_.max_batch, 1), bus::kMaxPublishBatch);
  while (true) {
    std::vector<Item> items;
    bool end_pipeline = false, stop = false, use_calls = false;
    {
      absl::MutexLock lock(&mu_);
      // A batch goes at once when nothing is in flight; behind others, only
      // when it is full, so batches stay large while the pipe is busy (as
      // Nagle's algorithm) and a message waits at most one round trip.
      auto can_send = [&] {
        if (queue_.empty()) return false;
        if (in_flight_.empty()) return true;
        return in_flight_.size() < max_in_flight &&
               (queue_.size() >= max_batch || queued_bytes_ >= options_.max_batch_bytes);
      };
      auto ready = [&] { return stream_failed_ || stopping_ || can_send(); };
      mu_.Await(absl::Condition(&ready));
      if (stream_failed_) {
        end_pipeline = true;
      } else if (can_send()) {
        const size_t n = std::min(queue_.size(), max_batch);
        items.reserve(n);
        size_t bytes = 0;
        while (items.size() < n &&
               (items.empty() || bytes + queue_.front().bytes.size() <= options_.max_batch_bytes)) {
          bytes += queue_.front().bytes.size();
          items.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_bytes_ -= bytes;
        use_calls = use_calls_;
      } else if (stopping_ && queue_.empty()) {
        stop = true;
      } else {
        continue;
      }
    }
    if (end_pipeline) {
      EndPipeline(/*drain=*/false);
      continue;
    }
    if (stop) {
      EndPipeline(/*drain=*/true);
      return;
    }
    Batch batch;
    batch.done.reserve(items.size());
    size_t size = 0;
    for (const Item& item : items) size += item.bytes.size();
    batch.bytes.reserve(size);
    for (Item& item : items) {
      batch.bytes += item.bytes;
      batch.done.push_back(std::move(item.done));
    }
    if (use_calls || !SendOnStream(batch)) SendAsCall(batch);
  }
}

bool BusPublisher::SendOnStream(Batch& batch) {
  if (pipeline_.stream == nullptr) {
    CallOptions stream_options;
    stream_options.metadata = options_.call_options.metadata;
    auto stream = client_.OpenPublishStream(stream_options);
    if (!stream.ok()) {
      if (stream.status().code() == absl::StatusCode::kUnimplemented) {
        absl::MutexLock lock(&mu_);
        use_calls_ = true;
      }
      return false;
    }
    pipeline_.stream = *std::move(stream);
    {
      absl::MutexLock lock(&mu_);
      pipeline_ending_ = false;
      close_due_ = absl::InfiniteFuture();
    }
    pipeline_.receiver = std::thread([this, s = pipeline_.stream.get()] { ReceiveLoop(s); });
    pipeline_.watchdog = std::thread([this, s = pipeline_.stream.get()] { WatchLoop(s); });
  }
  batch.outcome_due = client_.WithDefaultTimeout(options_.call_options).EffectiveDeadline();
  const std::string* request;
  {
    // In flight before it is written: its outcome may be read at once. Its
    // element stays put while the receiver pops older ones, and the receiver
    // never pops it while it is being written (writing_).
    absl::MutexLock lock(&mu_);
    in_flight_.push_back(std::move(batch));
    request = &in_flight_.back().bytes;
    writing_ = true;
  }
  bool written = pipeline_.stream->WriteSerialized(
      bus::v1::PublishBatchRequest::default_instance(), *request);
  absl::MutexLock lock(&mu_);
  writing_ = false;
  // Otherwise EndPipeline resends it, with whatever else has no outcome.
  if (!written) stream_failed_ = true;
  return true;
}

void BusPublisher::ReceiveLoop(ClientStream* stream) {
  ReusableArena arena;  // one response at a time, settled before the next
  while (true) {
    auto* response = arena.Fresh<bus::v1::PublishBatchResponse>();
    if (!stream->Read(response)) break;
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      if (in_flight_.empty() || (in_flight_.size() == 1 && writing_)) {
        // An outcome of nothing sent: the stream cannot be trusted.
        stream->Cancel();
        break;
      }
      batch = std::move(in_flight_.front());
      in_flight_.pop_front();
    }
    Settle(batch, absl::OkStatus(), *response);
  }
  absl::MutexLock lock(&mu_);
  stream_failed_ = true;
}

void BusPublisher::WatchLoop(ClientStream* stream) {
  absl::MutexLock lock(&mu_);
  while (!pipeline_ending_) {
    absl::Time due = in_flight_.empty() ? absl::InfiniteFuture() : in_flight_.front().outcome_due;
    due = std::min(due, close_due_);
    if (due <= absl::Now()) {
      // Whatever blocks the sender or the receiver on this stream ends now.
      stream_failed_ = true;
      stream->Cancel();
      return;
    }
    // Wakes for the deadline, or when the pipeline ends, the oldest batch
    // changes or the stream is being closed.
    const Batch* oldest = in_flight_.empty() ? nullptr : &in_flight_.front();
    const absl::Time close_due = close_due_;
    auto changed = [&] {
      return pipeline_ending_ || close_due_ != close_due ||
             (in_flight_.empty() ? nullptr : &in_flight_.front()) != oldest;
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed), due);
  }
}

void BusPublisher::EndPipeline(bool drain) {
  std::deque<Batch> left;
  if (pipeline_.stream != nullptr) {
    // Not cancelled here: a stream that failed is over already (the receiver
    // returns), and an overdue one the watchdog cancelled; so Finish still
    // tells an UNIMPLEMENTED server apart.
    if (drain) {
      // The server ends the stream once it has answered everything; the
      // watchdog gives it the default timeout to.
      {
        absl::MutexLock lock(&mu_);
        close_due_ = client_.WithDefaultTimeout(options_.call_options).EffectiveDeadline();
      }
      pipeline_.stream->CloseSend();
    }
    pipeline_.receiver.join();
    {
      absl::MutexLock lock(&mu_);
      pipeline_ending_ = true;
    }
    pipeline_.watchdog.join();
    absl::Status status = pipeline_.stream->Finish();
    pipeline_.stream.reset();
    absl::MutexLock lock(&mu_);
    left.swap(in_flight_);
    if (status.code() == absl::StatusCode::kUnimplemented) use_calls_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    stream_failed_ = false;
  }
  // Before anything newer, so publish order holds; the server answers what it
  // already stored as duplicates, with the original sequences.
  for (Batch& batch : left) SendAsCall(batch);
}

void BusPublisher::SendAsCall(Batch& batch) {
  bus::v1::PublishBatchRequest request;
  if (!request.ParseFromString(batch.bytes)) {
    // Publish serialized what it was given; only an envelope protobuf
    // cannot parse back (a string field that is not UTF-8) gets here.
    Settle(batch, absl::InvalidArgumentError("the batch does not parse: an envelope holds a "
                                             "string that is not UTF-8"),
           bus::v1::PublishBatchResponse::default_instance());
    return;
  }
  auto response = client_.PublishBatch(std::move(request), options_.call_options);
  Settle(batch, response.status(),
         response.ok() ? *response : bus::v1::PublishBatchResponse::default_instance());
}

void BusPublisher::Settle(Batch& batch, const absl::Status& status,
                          const bus::v1::PublishBatchResponse& response) {
  const size_t n = batch.done.size();
  absl::Status failure = status;
  if (failure.ok() && response.outcomes_size() != static_cast<int>(n)) {
    failure = absl::InternalError(absl::StrCat("the server answered ", response.outcomes_size(),
                                               " outcomes for ", n, " messages"));
  }
  uint64_t failed = 0;
  for (size_t i = 0; i < n; ++i) {
    int code = failure.ok() ? response.outcomes(static_cast<int>(i)).code() : 0;
    if (!failure.ok() || code != 0) ++failed;
    if (!batch.done[i]) continue;
    if (!failure.ok()) {
      batch.done[i](failure);
    } else if (const auto& o = response.outcomes(static_cast<int>(i)); code != 0) {
      batch.done[i](absl::Status(static_cast<absl::StatusCode>(code), o.message()));
    } else {
      batch.done[i](o.response());
    }
  }
  absl::MutexLock lock(&mu_);
  failures_ += failed;
  unsettled_ -= n;
}

}  // namespace kei
