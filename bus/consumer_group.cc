#include "bus/consumer_group.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bus/subject.h"

namespace kei::bus {
namespace {

// Acknowledged sequences kept above the floor for a restart; past this only
// the floor is saved (a restart then redelivers more, never less).
constexpr size_t kMaxAckedAboveFloor = 65536;
// The "member" holding a message while its dead letter is being stored.
constexpr uint64_t kDeadLettering = ~uint64_t{0};
// Log records one Fetch looks at before returning what it has.
constexpr size_t kMaxScanPerFetch = 1 << 16;

}  // namespace

ConsumerGroup::ConsumerGroup(std::string name, std::string pattern, GroupOptions options,
                             uint64_t start_sequence)
    : name_(std::move(name)),
      pattern_(std::move(pattern)),
      options_(std::move(options)),
      next_scan_(std::max<uint64_t>(start_sequence, 1)),
      ack_floor_(next_scan_ - 1) {}

ConsumerGroup::ConsumerGroup(GroupState state)
    : name_(std::move(state.name)),
      pattern_(std::move(state.pattern)),
      options_(std::move(state.options)),
      next_scan_(state.ack_floor + 1),
      ack_floor_(state.ack_floor),
      acked_(std::move(state.acked)) {}

std::string ConsumerGroup::dead_letter_topic() const {
  return options_.dead_letter_topic.empty() ? absl::StrCat("deadletter.", name_)
                                            : options_.dead_letter_topic;
}

absl::Duration ConsumerGroup::BackoffFor(uint32_t attempts) const {
  if (options_.backoff.empty()) return absl::ZeroDuration();
  size_t index = std::min<size_t>(attempts == 0 ? 0 : attempts - 1, options_.backoff.size() - 1);
  return options_.backoff[index];
}

absl::StatusOr<ConsumerGroup::FetchResult> ConsumerGroup::Fetch(uint64_t member, size_t max,
                                                                absl::Time now,
                                                                const MessageLog& log) {
  absl::MutexLock lock(&mu_);
  FetchResult result;
  if (now >= next_due_) {
    // Deliveries whose ack deadline passed wait for a redelivery.
    for (auto& [sequence, out] : outstanding_) {
      if (out.member != 0 && out.due <= now) {
        out.member = 0;
        out.due += BackoffFor(out.attempts);
      }
    }
    for (auto it = outstanding_.begin(); it != outstanding_.end() && result.deliveries.size() < max;) {
      auto& [sequence, out] = *it;
      if (out.member != 0 || out.due > now) {
        ++it;
        continue;
      }
      auto read = log.Read(sequence, 1, nullptr, 1);
      if (!read.ok()) return read.status();
      if (read->messages.empty() || read->messages.front()->sequence != sequence) {
        it = outstanding_.erase(it);  // dropped by retention meanwhile
        dirty_ = true;
        continue;
      }
      if (options_.max_deliveries > 0 &&
          out.attempts >= static_cast<uint32_t>(options_.max_deliveries)) {
        // Held until the caller stored the dead letter (Ack) or failed to
        // (Nack: tried again), so a failed or interrupted store loses nothing.
        result.dead_letters.push_back(std::move(read->messages.front()));
        out.member = kDeadLettering;
        out.due = absl::InfiniteFuture();
        ++it;
        continue;
      }
      ++out.attempts;
      out.member = member;
      out.due = now + options_.ack_wait;
      result.deliveries.push_back(
          Delivery{std::move(read->messages.front()), AckId(name_, sequence), out.attempts});
      ++it;
    }
  }
  // New messages, within max_ack_pending.
  size_t scanned = 0;
  while (result.deliveries.size() < max && outstanding_.size() < options_.max_ack_pending &&
         next_scan_ <= log.last_sequence() && scanned < kMaxScanPerFetch) {
    size_t want = std::min<size_t>(max - result.deliveries.size(),
                                   options_.max_ack_pending - outstanding_.size());
    auto read = log.Read(
        next_scan_, want,
        [this](absl::string_view topic) { return TopicMatches(pattern_, topic); },
        kMaxScanPerFetch - scanned);
    if (!read.ok()) return read.status();
    uint64_t before = next_scan_;
    next_scan_ = std::max(next_scan_, read->next_sequence);
    scanned += next_scan_ - before;
    for (MessagePtr& message : read->messages) {
      uint64_t sequence = message->sequence;
      if (acked_.erase(sequence) > 0) continue;  // acknowledged before a restart
      outstanding_[sequence] = Outstanding{1, member, now + options_.ack_wait};
      result.deliveries.push_back(Delivery{std::move(message), AckId(name_, sequence), 1});
    }
    if (next_scan_ == before) break;
  }
  AdvanceFloor();
  next_due_ = absl::InfiniteFuture();
  for (const auto& [sequence, out] : outstanding_) next_due_ = std::min(next_due_, out.due);
  result.next_due = next_due_;
  // The scan stopped at its limit with room left: the caller looks again now.
  if (result.deliveries.empty() && next_scan_ <= log.last_sequence() &&
      outstanding_.size() < options_.max_ack_pending) {
    result.next_due = now;
  }
  return result;
}

bool ConsumerGroup::Ack(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  if (outstanding_.erase(sequence) == 0) return false;
  if (acked_.size() < kMaxAckedAboveFloor) acked_.insert(sequence);
  AdvanceFloor();
  dirty_ = true;
  return true;
}

bool ConsumerGroup::Nack(uint64_t sequence, absl::Duration delay, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = outstanding_.find(sequence);
  if (it == outstanding_.end()) return false;
  it->second.member = 0;
  it->second.due = now + (delay < absl::ZeroDuration() ? BackoffFor(it->second.attempts) : delay);
  next_due_ = std::min(next_due_, it->second.due);
  return true;
}

void ConsumerGroup::MemberLeft(uint64_t member, absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (auto& [sequence, out] : outstanding_) {
    if (out.member == member) {
      out.member = 0;
      out.due = now;
      next_due_ = std::min(next_due_, now);
    }
  }
}

void ConsumerGroup::AdvanceFloor() {
  uint64_t floor = (outstanding_.empty() ? next_scan_ : outstanding_.begin()->first) - 1;
  if (floor <= ack_floor_) return;
  ack_floor_ = floor;
  acked_.erase(acked_.begin(), acked_.upper_bound(floor));
  dirty_ = true;
}

GroupState ConsumerGroup::Snapshot() const {
  absl::MutexLock lock(&mu_);
  dirty_ = false;
  return GroupState{name_, pattern_, options_, ack_floor_, acked_};
}

bool ConsumerGroup::dirty() const {
  absl::MutexLock lock(&mu_);
  return dirty_;
}

void ConsumerGroup::MarkDirty() {
  absl::MutexLock lock(&mu_);
  dirty_ = true;
}

std::string ConsumerGroup::AckId(absl::string_view group, uint64_t sequence) {
  return absl::StrCat(group, ":", sequence);
}

absl::Status ConsumerGroup::ParseAckId(absl::string_view ack_id, std::string* group,
                                       uint64_t* sequence) {
  size_t colon = ack_id.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(ack_id.substr(colon + 1), sequence) || *sequence == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed ack id '", ack_id, "' (expected '<group>:<sequence>')"));
  }
  *group = std::string(ack_id.substr(0, colon));
  return absl::OkStatus();
}

}  // namespace kei::bus
