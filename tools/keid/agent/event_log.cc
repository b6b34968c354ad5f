// Implementation of the agent's bounded, followable event log.
#include "tools/keid/agent/event_log.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "cc/codec/proto_time.h"

namespace kei::agent {
namespace {

// Events handed to a follower per lock acquisition.
constexpr size_t kFollowBatch = 256;
// Events handed to the publisher per call.
constexpr size_t kPublishBatch = 256;
// How long the publisher waits for a batch to fill before publishing a
// partial one: one wake-up per batch instead of one per event under load, at
// the price of at most this much delay for subscribers.
constexpr absl::Duration kPublishLinger = absl::Milliseconds(1);

}  // namespace

EventLog::EventLog(EventLogOptions options)
    : options_([&] {
        options.max_events = std::max<size_t>(options.max_events, 1);
        return options;
      }()),
      state_(std::make_shared<State>()) {}

EventLog::~EventLog() { set_publisher(nullptr); }

std::shared_ptr<const v1::AgentEvent> EventLog::Append(
    v1::EventKind kind, std::string subject, std::string summary,
    std::map<std::string, std::string> attributes) {
  v1::AgentEvent event;
  event.set_kind(kind);
  event.set_subject(std::move(subject));
  event.set_summary(std::move(summary));
  auto& map = *event.mutable_attributes();
  for (auto& [key, value] : attributes) map[key] = std::move(value);
  return Append(std::move(event));
}

std::shared_ptr<const v1::AgentEvent> EventLog::Append(v1::AgentEvent appended) {
  auto event = std::make_shared<v1::AgentEvent>(std::move(appended));
  // Sized before the locks are taken (keeping them short): the sequence and
  // time fields set under the lock add at most kStampBytes.
  constexpr size_t kStampBytes = 32;
  const size_t bytes = event->ByteSizeLong() + kStampBytes;
  // Declared before the lock so the evicted event is destroyed after it.
  std::shared_ptr<const v1::AgentEvent> evicted;
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  if (s.publishing) {
    // Bounded lag: wait while the publisher is a whole log behind.
    auto room = [&s, this]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
      return !s.publishing || s.unpublished.size() + s.in_flight < options_.max_events;
    };
    s.mu.Await(absl::Condition(&room));
  }
  event->set_sequence(++s.last_sequence);
  TimeToProto(absl::Now(), event->mutable_time());
  s.bytes += bytes;
  s.events.push_back(State::Retained{event, bytes});
  while (s.events.size() > 1 && (s.events.size() > options_.max_events ||
                                 s.bytes > options_.max_bytes)) {
    s.bytes -= std::min(s.bytes, s.events.front().bytes);
    evicted = std::move(s.events.front().event);
    s.events.pop_front();
  }
  if (s.publishing) s.unpublished.push_back(event);
  // Releasing the lock re-evaluates the conditions Follow and the publisher
  // wait on.
  return event;
}

std::vector<v1::AgentEvent> EventLog::ReadAfter(uint64_t after_sequence,
                                                size_t limit) const {
  std::vector<v1::AgentEvent> out;
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  if (s.events.empty() || after_sequence >= s.last_sequence) return out;
  const uint64_t first = s.events.front().event->sequence();
  size_t start = after_sequence < first ? 0 : after_sequence - first + 1;
  size_t count = s.events.size() - start;
  if (limit != 0) count = std::min(count, limit);
  out.reserve(count);
  for (size_t i = start; i < start + count; ++i) out.push_back(*s.events[i].event);
  return out;
}

absl::Status EventLog::Follow(
    uint64_t after_sequence, absl::Time deadline,
    const CancellationToken& cancellation,
    const std::function<bool(const v1::AgentEvent&)>& on_event) const {
  // Wake our wait when the call is cancelled: taking and releasing the mutex
  // makes absl::Mutex re-evaluate the waiters' conditions. The callback holds
  // only a weak reference, so it is harmless after the log is gone.
  std::weak_ptr<State> weak = state_;
  cancellation.OnCancel([weak] {
    if (auto s = weak.lock()) absl::MutexLock lock(&s->mu);
  });

  uint64_t cursor = after_sequence;
  while (true) {
    if (cancellation.IsCancelled()) {
      return absl::CancelledError("watch cancelled");
    }
    {
      State& s = *state_;
      absl::MutexLock lock(&s.mu);
      auto ready = [&] {
        return s.last_sequence > cursor || cancellation.IsCancelled();
      };
      s.mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
      if (cancellation.IsCancelled()) {
        return absl::CancelledError("watch cancelled");
      }
      if (s.last_sequence <= cursor) {
        return absl::DeadlineExceededError("deadline exceeded while waiting for events");
      }
    }
    for (const v1::AgentEvent& event : ReadAfter(cursor, kFollowBatch)) {
      cursor = event.sequence();
      if (!on_event(event)) return absl::OkStatus();
      if (cancellation.IsCancelled()) {
        return absl::CancelledError("watch cancelled");
      }
    }
  }
}

uint64_t EventLog::last_sequence() const {
  absl::MutexLock lock(&state_->mu);
  return state_->last_sequence;
}

uint64_t EventLog::first_sequence() const {
  absl::MutexLock lock(&state_->mu);
  return state_->events.empty() ? 0 : state_->events.front().event->sequence();
}

size_t EventLog::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->events.size();
}

void EventLog::set_publisher(Publisher publisher) {
  absl::MutexLock lock(&publisher_mu_);
  StopPublishing();  // the old thread published everything it saw
  State& s = *state_;
  std::vector<EventPtr> leftover;  // appended after its last look
  {
    absl::MutexLock state_lock(&s.mu);
    leftover.swap(s.unpublished);
    s.in_flight = leftover.size();
    s.publishing = publisher != nullptr;
    s.stop_publishing = false;
  }
  if (publisher_ != nullptr) PublishInBatches(publisher_, leftover);
  {
    absl::MutexLock state_lock(&s.mu);
    s.in_flight = 0;
  }
  publisher_ = std::move(publisher);
  if (publisher_ != nullptr) publisher_thread_ = std::thread(&EventLog::PublishLoop, this);
}

void EventLog::PublishInBatches(const Publisher& publisher, absl::Span<const EventPtr> events) {
  for (size_t i = 0; i < events.size(); i += kPublishBatch) {
    publisher(events.subspan(i, kPublishBatch));
  }
}

void EventLog::StopPublishing() {
  if (!publisher_thread_.joinable()) return;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stop_publishing = true;
  }
  publisher_thread_.join();
}

void EventLog::PublishLoop() {
  State& s = *state_;
  std::vector<EventPtr> taken;
  while (true) {
    {
      absl::MutexLock lock(&s.mu);
      s.in_flight = 0;
      auto ready = [&s]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
        return !s.unpublished.empty() || s.stop_publishing;
      };
      s.mu.Await(absl::Condition(&ready));
      const size_t full_batch = std::min(kPublishBatch, options_.max_events);
      auto full = [&s, full_batch]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
        return s.unpublished.size() >= full_batch || s.stop_publishing;
      };
      s.mu.AwaitWithTimeout(absl::Condition(&full), kPublishLinger);
      if (s.unpublished.empty()) return;  // stopping, and everything is published
      taken.clear();
      taken.swap(s.unpublished);
      s.in_flight = taken.size();
    }
    PublishInBatches(publisher_, taken);
  }
}

void EventLog::WaitPublished() const {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  auto done = [&s]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
    return !s.publishing || (s.unpublished.empty() && s.in_flight == 0);
  };
  s.mu.Await(absl::Condition(&done));
}

}  // namespace kei::agent
