// The agent's event log: an in-memory, bounded, append-only record of every
// plan created, action run and observation recorded. Watch streams from it, and
// a publisher seam lets keid forward each event to the bus topic
// kei.agent.v1.events, asynchronously and in batches, so handlers never wait
// for the bus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/types/span.h"

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/cancellation.h"
#include "kei/agent/v1/agent.pb.h"

namespace kei::agent {

// The bus subject events are published on (see agent.proto's topics option).
inline constexpr char kEventsTopic[] = "kei.agent.v1.events";

struct EventLogOptions {
  // Events retained; the oldest are dropped beyond this. At least 1.
  size_t max_events = 10000;
  // Approximate bytes retained (serialized event sizes); the oldest events are
  // dropped beyond this, though the newest event is always kept.
  size_t max_bytes = 64 << 20;
};

// Thread-safe. Sequence numbers start at 1 and increase by one per event, so
// the retained events always form one contiguous range.
class EventLog {
 public:
  using EventPtr = std::shared_ptr<const v1::AgentEvent>;
  // Receives appended events in sequence order, in batches of at most 256.
  using Publisher = std::function<void(absl::Span<const EventPtr> events)>;

  explicit EventLog(EventLogOptions options = {});
  // Publishes what is still pending, then stops the publisher.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends an event stamped with the next sequence number and the current
  // time, wakes followers, queues it for the publisher and returns it (shared
  // with the log: retained events are immutable, so nothing is copied). Waits
  // only while the publisher is max_events behind, so a stalled bus slows
  // handlers down instead of growing memory or skipping events.
  std::shared_ptr<const v1::AgentEvent> Append(v1::EventKind kind, std::string subject,
                        std::string summary,
                        std::map<std::string, std::string> attributes = {});
  // Same, for an event the caller filled in (its sequence and time are set here).
  std::shared_ptr<const v1::AgentEvent> Append(v1::AgentEvent event);

  // Retained events with sequence > after_sequence, oldest first; at most
  // `limit` of them (0 = no limit).
  std::vector<v1::AgentEvent> ReadAfter(uint64_t after_sequence,
                                        size_t limit = 0) const;

  // Delivers every event with sequence > after_sequence to `on_event`, first
  // the retained ones and then live ones as they are appended, in order.
  // `on_event` runs on the calling thread without the log's lock held. Events
  // dropped before a slow follower reached them are skipped. Returns
  //   OK                 when `on_event` returned false,
  //   CANCELLED          as soon as `cancellation` is cancelled,
  //   DEADLINE_EXCEEDED  when `deadline` passes while waiting.
  absl::Status Follow(uint64_t after_sequence, absl::Time deadline,
                      const CancellationToken& cancellation,
                      const std::function<bool(const v1::AgentEvent&)>& on_event) const;

  // Sequence of the newest event ever appended; 0 before the first.
  uint64_t last_sequence() const;
  // Sequence of the oldest retained event; 0 while the log is empty.
  uint64_t first_sequence() const;
  // Number of retained events.
  size_t size() const;
  const EventLogOptions& options() const { return options_; }

  // Hands every event appended from now on to `publisher`, on the log's own
  // publishing thread: in sequence order, never concurrently, outside the
  // log's lock (so it may read the log, but must not call Append,
  // WaitPublished or set_publisher: those wait for it). Replacing or clearing
  // (nullptr) the publisher first publishes what is pending through the old
  // one; events appended meanwhile go to the old or the new one, in order.
  // This is the seam for the bus.
  void set_publisher(Publisher publisher);
  // Blocks until every event appended so far has been handed to the
  // publisher and the publisher returned (at once when there is none).
  void WaitPublished() const;

 private:
  struct State {
    mutable absl::Mutex mu;
    // Each event with its serialized size, computed once when appended.
    struct Retained {
      std::shared_ptr<const v1::AgentEvent> event;
      size_t bytes;
    };
    std::deque<Retained> events ABSL_GUARDED_BY(mu);
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
    uint64_t last_sequence ABSL_GUARDED_BY(mu) = 0;
    // Publishing: events appended but not yet taken by the publishing thread,
    // and how many it has taken but not finished publishing.
    bool publishing ABSL_GUARDED_BY(mu) = false;
    bool stop_publishing ABSL_GUARDED_BY(mu) = false;
    std::vector<EventPtr> unpublished ABSL_GUARDED_BY(mu);
    size_t in_flight ABSL_GUARDED_BY(mu) = 0;
  };

  void PublishLoop();
  static void PublishInBatches(const Publisher& publisher, absl::Span<const EventPtr> events);
  // Drains and joins the publishing thread, if any.
  void StopPublishing() ABSL_EXCLUSIVE_LOCKS_REQUIRED(publisher_mu_);

  const EventLogOptions options_;
  // Shared so cancellation callbacks registered by Follow stay safe even if a
  // token outlives the log.
  std::shared_ptr<State> state_;
  // Serializes set_publisher; the thread runs PublishLoop with publisher_,
  // which changes only while no thread runs.
  absl::Mutex publisher_mu_;
  Publisher publisher_;
  std::thread publisher_thread_ ABSL_GUARDED_BY(publisher_mu_);
};

}  // namespace kei::agent
