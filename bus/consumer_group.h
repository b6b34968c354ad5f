// A durable consumer group of the embedded broker: competing members pull
// messages matching the group's pattern from the log, at least once. Tracks
// what is out (delivered, waiting for its ack deadline) and what waits for a
// redelivery (after a missed deadline or a nack, with backoff), sends a message
// to the dead-letter topic after max deliveries, and keeps an ack floor (every
// matching sequence at or below it is acknowledged) that survives restarts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bus/backend.h"
#include "bus/log/message_log.h"

namespace kei::bus {

// What a group needs to resume after a restart.
struct GroupState {
  std::string name;
  std::string pattern;
  GroupOptions options;
  uint64_t ack_floor = 0;         // every sequence <= ack_floor is done
  std::set<uint64_t> acked;       // acknowledged sequences above the floor
};

class ConsumerGroup {
 public:
  // A new group reading from `start_sequence`.
  ConsumerGroup(std::string name, std::string pattern, GroupOptions options,
                uint64_t start_sequence);
  // A group restored from its saved state.
  explicit ConsumerGroup(GroupState state);

  const std::string& name() const { return name_; }
  const std::string& pattern() const { return pattern_; }

  struct FetchResult {
    std::vector<Delivery> deliveries;
    // Messages past max deliveries: the caller publishes them to
    // dead_letter_topic(), then Acks them (stored) or Nacks them (failed: they
    // come back as dead letters later).
    std::vector<MessagePtr> dead_letters;
    // When something the group holds next becomes due (an ack deadline or a
    // redelivery time); InfiniteFuture when nothing is.
    absl::Time next_due = absl::InfiniteFuture();
  };
  // Up to `max` deliveries for `member`: due redeliveries first, then new
  // messages from the log, within max_ack_pending.
  absl::StatusOr<FetchResult> Fetch(uint64_t member, size_t max, absl::Time now,
                                    const MessageLog& log);

  // False when `sequence` is not outstanding (already acknowledged, unknown).
  bool Ack(uint64_t sequence);
  // Makes an outstanding sequence due again after `delay` (negative: the
  // group's backoff).
  bool Nack(uint64_t sequence, absl::Duration delay, absl::Time now);
  // A member left: what it held is due for redelivery now.
  void MemberLeft(uint64_t member, absl::Time now);

  std::string dead_letter_topic() const;
  GroupState Snapshot() const;
  // Whether the state changed since the last Snapshot.
  bool dirty() const;
  // The last Snapshot was not saved: save again.
  void MarkDirty();

  // "<group>:<sequence>", the ack id of a group delivery, and back.
  static std::string AckId(absl::string_view group, uint64_t sequence);
  static absl::Status ParseAckId(absl::string_view ack_id, std::string* group,
                                 uint64_t* sequence);

 private:
  struct Outstanding {
    uint32_t attempts = 0;  // deliveries so far
    uint64_t member = 0;    // 0: waiting for redelivery
    absl::Time due;         // ack deadline, or when to redeliver
  };
  absl::Duration BackoffFor(uint32_t attempts) const;
  void AdvanceFloor() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const std::string pattern_;
  const GroupOptions options_;
  mutable absl::Mutex mu_;
  uint64_t next_scan_ ABSL_GUARDED_BY(mu_);  // next log sequence to look at
  uint64_t ack_floor_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Outstanding> outstanding_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> acked_ ABSL_GUARDED_BY(mu_);  // above the floor
  absl::Time next_due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  mutable bool dirty_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace kei::bus
