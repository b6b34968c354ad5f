// The embedded broker's storage: an append-only sequence of messages with
// retention. MemoryLog keeps them in memory; FileLog in segment files on disk
// (CRC per record, configurable fsync, torn-tail recovery). The broker only
// sees this interface, so both modes share every routing and consumer rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bus/backend.h"

namespace kei::bus {

// What the log keeps; a limit of 0 means none. Retention is logical and exact
// (first_sequence moves past dropped messages); FileLog deletes a segment file
// once every record in it was dropped.
struct RetentionPolicy {
  absl::Duration max_age = absl::InfiniteDuration();
  uint64_t max_bytes = 0;     // serialized envelope + topic bytes of retained messages
  uint64_t max_messages = 0;
};

// Which topics a Read wants; null: all.
using TopicFilter = std::function<bool(absl::string_view topic)>;

struct LogReadResult {
  std::vector<MessagePtr> messages;  // in sequence order
  // Where the next Read should start: past everything this one looked at,
  // matching or not.
  uint64_t next_sequence = 0;
  // The oldest retained sequence when the read was made: a `from` below it
  // means messages left retention before the reader got to them.
  uint64_t first_sequence = 0;
};

class MessageLog {
 public:
  virtual ~MessageLog() = default;

  // Stores `batch` in order, assigning consecutive sequences (written into
  // each Message, as is a publish_time raised to its predecessor's so times
  // never go backwards), and returns once the batch is as durable as the log's
  // fsync policy promises. The messages must not be modified afterwards.
  virtual absl::Status Append(const std::vector<std::shared_ptr<Message>>& batch) = 0;

  // Oldest retained sequence (last_sequence() + 1 when empty) and newest
  // assigned one (0 when nothing was ever appended).
  virtual uint64_t first_sequence() const = 0;
  virtual uint64_t last_sequence() const = 0;

  // Up to `max_messages` retained messages with sequence >= `from` whose
  // topic passes `filter`, looking at no more than `max_scan` records.
  // `from` below first_sequence() starts at first_sequence().
  virtual absl::StatusOr<LogReadResult> Read(uint64_t from, size_t max_messages,
                                             const TopicFilter& filter,
                                             size_t max_scan = 65536) const = 0;

  // The first retained sequence published at or after `time`
  // (last_sequence() + 1 when none).
  virtual uint64_t SequenceAtTime(absl::Time time) const = 0;

  // Drops what the retention policy no longer keeps, as of `now`. Append
  // drops too, as of the newest publish time, but never the messages it just
  // stored: the count and bytes limits hold after every Append but for that
  // batch, which the next Append or this call catches up with. This call is
  // also for age while nothing is published, and FileLog deletes the segment
  // files nothing is retained from here.
  virtual void EnforceRetention(absl::Time now) = 0;

  // Retained messages and their payload bytes; for metrics and tests.
  virtual uint64_t message_count() const = 0;
  virtual uint64_t byte_count() const = 0;
};

}  // namespace kei::bus
