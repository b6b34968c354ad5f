// The embedded broker's non-durable storage: retained messages in a deque,
// found by sequence arithmetic, gone when the process ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bus/log/message_log.h"

namespace kei::bus {

// Thread-safe: Append and EnforceRetention take the lock exclusively, the
// rest share it (Read calls the filter under it: the filter must not call
// into the log). Append stores each message's publish_time as given, raised
// to the previous message's when it is earlier, so times never decrease
// along the log (SequenceAtTime and age retention rely on that).
// A message counts envelope.ByteSizeLong() + topic.size() bytes.
class MemoryLog final : public MessageLog {
 public:
  explicit MemoryLog(RetentionPolicy retention = {});

  absl::Status Append(const std::vector<std::shared_ptr<Message>>& batch) override;
  uint64_t first_sequence() const override;
  uint64_t last_sequence() const override;
  absl::StatusOr<LogReadResult> Read(uint64_t from, size_t max_messages, const TopicFilter& filter,
                                     size_t max_scan = 65536) const override;
  uint64_t SequenceAtTime(absl::Time time) const override;
  void EnforceRetention(absl::Time now) override;
  uint64_t message_count() const override;
  uint64_t byte_count() const override;

 private:
  struct Entry {
    MessagePtr message;
    uint64_t bytes;
  };

  // Pops the oldest messages the policy no longer keeps as of `now` into
  // `dropped` (for the caller to free after the lock), but never the newest
  // `keep` (a batch just appended: published, so it is read at least once).
  void DropBeyondRetention(absl::Time now, size_t keep, std::vector<MessagePtr>& dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RetentionPolicy retention_;
  mutable absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);  // sequences first..last
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace kei::bus
