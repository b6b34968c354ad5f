#include "bus/log/memory_log.h"

#include <algorithm>
#include <utility>

namespace kei::bus {

MemoryLog::MemoryLog(RetentionPolicy retention) : retention_(retention) {}

absl::Status MemoryLog::Append(const std::vector<std::shared_ptr<Message>>& batch) {
  std::vector<uint64_t> bytes;
  bytes.reserve(batch.size());
  for (const auto& message : batch) {
    bytes.push_back(message->envelope_size() + message->topic.size());
  }
  std::vector<MessagePtr> dropped;  // freed after the lock
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < batch.size(); ++i) {
    Message& message = *batch[i];
    message.sequence = ++last_sequence_;
    message.publish_time = last_time_ = std::max(message.publish_time, last_time_);
    entries_.push_back({batch[i], bytes[i]});
    bytes_ += bytes[i];
  }
  // Here rather than only in the periodic EnforceRetention: at a few hundred
  // thousand messages a second, a second's traffic past the limits is
  // hundreds of MiB of memory, and the oldest batches are freed while their
  // memory can still serve the next ones.
  DropBeyondRetention(last_time_, batch.size(), dropped);
  return absl::OkStatus();
}

uint64_t MemoryLog::first_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_sequence_ + 1 - entries_.size();
}

uint64_t MemoryLog::last_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_sequence_;
}

absl::StatusOr<LogReadResult> MemoryLog::Read(uint64_t from, size_t max_messages,
                                              const TopicFilter& filter, size_t max_scan) const {
  absl::ReaderMutexLock lock(&mu_);
  const uint64_t first = last_sequence_ + 1 - entries_.size();
  LogReadResult result;
  result.first_sequence = first;
  result.next_sequence = std::max(from, first);
  if (result.next_sequence > last_sequence_) return result;
  size_t i = result.next_sequence - first;
  const size_t end = i + std::min(max_scan, entries_.size() - i);
  for (; i < end && result.messages.size() < max_messages; ++i) {
    const MessagePtr& message = entries_[i].message;
    if (!filter || filter(message->topic)) result.messages.push_back(message);
  }
  result.next_sequence = first + i;
  return result;
}

uint64_t MemoryLog::SequenceAtTime(absl::Time time) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = std::partition_point(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.message->publish_time < time;
  });
  return last_sequence_ + 1 - (entries_.end() - it);
}

void MemoryLog::EnforceRetention(absl::Time now) {
  std::vector<MessagePtr> dropped;  // freed after the lock
  absl::MutexLock lock(&mu_);
  DropBeyondRetention(now, 0, dropped);
}

void MemoryLog::DropBeyondRetention(absl::Time now, size_t keep,
                                    std::vector<MessagePtr>& dropped) {
  const bool by_age = retention_.max_age > absl::ZeroDuration();
  while (entries_.size() > keep &&
         ((retention_.max_messages != 0 && entries_.size() > retention_.max_messages) ||
          (retention_.max_bytes != 0 && bytes_ > retention_.max_bytes) ||
          (by_age && entries_.front().message->publish_time < now - retention_.max_age))) {
    bytes_ -= entries_.front().bytes;
    dropped.push_back(std::move(entries_.front().message));
    entries_.pop_front();
  }
}

uint64_t MemoryLog::message_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

uint64_t MemoryLog::byte_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return bytes_;
}

}  // namespace kei::bus
