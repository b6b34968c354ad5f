// Server-Sent Events parsing for the MCP client (see sse_parser.h).
#include "clients/mcp/sse_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace kei::mcp {

void SseParser::Feed(absl::string_view bytes, std::vector<SseEvent>* events) {
  for (char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      if (c == '\r') skip_lf_ = true;
      Line(pending_, events);
      pending_.clear();
      continue;
    }
    pending_.push_back(c);
  }
}

void SseParser::Line(absl::string_view line, std::vector<SseEvent>* events) {
  if (line.empty()) {
    // Dispatch. An event with neither data nor a name carries only an id or a
    // retry hint (a priming event); it is still reported so callers see ids.
    if (has_data_ || !event_.empty() || event_has_id_) {
      SseEvent event;
      if (!event_.empty()) event.event = event_;
      event.data = data_;
      event.id = last_id_;
      event.has_id = event_has_id_;
      events->push_back(std::move(event));
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
    event_has_id_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment (keep-alive)
  absl::string_view field = line, value;
  if (size_t colon = line.find(':'); colon != absl::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value.data(), value.size());
    has_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == absl::string_view::npos) {
      last_id_ = std::string(value);
      seen_id_ = true;
      event_has_id_ = true;
    }
  } else if (field == "retry") {
    int64_t ms = 0;
    bool digits = !value.empty();
    for (char c : value) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
    if (digits && absl::SimpleAtoi(value, &ms)) retry_ms_ = ms;
  }
}

}  // namespace kei::mcp
