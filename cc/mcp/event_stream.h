// One server-sent-event stream of an MCP session, kept after it is written so a
// client that lost the connection can resume it with Last-Event-ID
// (Streamable HTTP resumability). Events are numbered per stream; the buffer
// keeps the newest events up to a count and a byte budget, so memory stays
// bounded however long the stream lives or however long the client stays
// away.
#pragma once

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/dispatch/cancellation.h"

namespace kei::mcp {

class EventStream {
 public:
  // Keeps at most `capacity` events and `max_bytes` of event data (the
  // newest; one event is always kept).
  EventStream(std::string id, size_t capacity, size_t max_bytes = 4 * 1024 * 1024)
      : id_(std::move(id)), capacity_(capacity), max_bytes_(max_bytes) {}

  const std::string& id() const { return id_; }

  // Appends one message (a JSON-RPC message's text); returns its event id.
  std::string Append(std::string data);
  // No more events will come (the POST's response was appended).
  void Close();
  bool closed() const;

  struct Batch {
    // (event id, data), in order, with sequence numbers >= the one asked for.
    std::vector<std::pair<std::string, std::string>> events;
    // The next sequence number to ask for.
    uint64_t next = 0;
    bool closed = false;
  };
  // Events from sequence `from` on; waits up to `timeout` for the first one
  // unless the stream is closed or `cancellation` fires.
  Batch Read(uint64_t from, absl::Duration timeout, const CancellationToken& cancellation);
  // The sequence number after the newest event (where a new reader starts).
  uint64_t end() const;
  // Wakes readers (cancellation, shutdown).
  void Wake();

  // An event id is "<stream id>:<n>" where n is the sequence number a reader
  // resuming after that event starts from (its own sequence + 1; a priming
  // event carries the stream's current end).
  static std::string EventId(const std::string& stream, uint64_t resume_from);
  // The inverse of EventId; false if malformed.
  static bool ParseEventId(const std::string& event_id, std::string* stream, uint64_t* resume_from);

 private:
  const std::string id_;
  const size_t capacity_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::deque<std::string> events_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t first_ ABSL_GUARDED_BY(mu_) = 0;  // sequence of events_.front()
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
};

// The wire form of one SSE event carrying a JSON-RPC message.
std::string SseEvent(const std::string& event_id, const std::string& data);

}  // namespace kei::mcp
