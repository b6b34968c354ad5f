#include "cc/mcp/event_stream.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kei::mcp {

std::string EventStream::Append(std::string data) {
  absl::MutexLock lock(&mu_);
  bytes_ += data.size();
  events_.push_back(std::move(data));
  while (events_.size() > 1 && (events_.size() > capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= events_.front().size();
    events_.pop_front();
    ++first_;
  }
  return absl::StrCat(id_, ":", first_ + events_.size());
}

void EventStream::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool EventStream::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

uint64_t EventStream::end() const {
  absl::MutexLock lock(&mu_);
  return first_ + events_.size();
}

void EventStream::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

EventStream::Batch EventStream::Read(uint64_t from, absl::Duration timeout,
                                     const CancellationToken& cancellation) {
  absl::MutexLock lock(&mu_);
  uint64_t wakes = wakes_;
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || wakes_ != wakes || first_ + events_.size() > from ||
           cancellation.IsCancelled();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  Batch batch;
  uint64_t start = std::max(from, first_);
  for (uint64_t s = start; s < first_ + events_.size(); ++s) {
    batch.events.emplace_back(absl::StrCat(id_, ":", s + 1), events_[s - first_]);
  }
  batch.next = first_ + events_.size();
  if (batch.next < from) batch.next = from;
  batch.closed = closed_;
  return batch;
}

std::string EventStream::EventId(const std::string& stream, uint64_t resume_from) {
  return absl::StrCat(stream, ":", resume_from);
}

bool EventStream::ParseEventId(const std::string& event_id, std::string* stream,
                               uint64_t* sequence) {
  auto colon = event_id.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  if (!absl::SimpleAtoi(absl::string_view(event_id).substr(colon + 1), sequence)) return false;
  *stream = event_id.substr(0, colon);
  return true;
}

std::string SseEvent(const std::string& event_id, const std::string& data) {
  return absl::StrCat("event: message\nid: ", event_id, "\ndata: ", data, "\n\n");
}

}  // namespace kei::mcp
