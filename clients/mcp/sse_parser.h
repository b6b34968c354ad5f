// Server-Sent Events, as the MCP client reads them from a Streamable HTTP
// answer (POST or GET with Accept: text/event-stream): bytes in as they
// arrive, whole events out. Follows the WHATWG event-stream rules the MCP
// servers rely on: LF, CRLF or CR line ends, "data" lines joined with LF,
// "id" remembered across events (the Last-Event-ID to resume from), "retry"
// as the reconnection delay, comment lines ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kei::mcp {

struct SseEvent {
  // "message" when the event named none.
  std::string event = "message";
  std::string data;
  // The last event id seen so far on the stream (this event's or an earlier one).
  std::string id;
  // True when this event carried an "id" field itself.
  bool has_id = false;
};

class SseParser {
 public:
  // Feeds the next bytes; complete events are appended to `events`.
  void Feed(absl::string_view bytes, std::vector<SseEvent>* events);

  // The last event id seen (empty when none), and the newest "retry" hint.
  const std::string& last_event_id() const { return last_id_; }
  bool seen_event_id() const { return seen_id_; }
  std::optional<int64_t> retry_ms() const { return retry_ms_; }

 private:
  void Line(absl::string_view line, std::vector<SseEvent>* events);

  std::string pending_;  // an incomplete line
  bool skip_lf_ = false;  // the previous chunk ended in CR
  bool has_data_ = false;
  bool event_has_id_ = false;
  std::string data_;
  std::string event_;
  std::string last_id_;
  bool seen_id_ = false;
  std::optional<int64_t> retry_ms_;
};

}  // namespace kei::mcp
