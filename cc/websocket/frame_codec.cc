#include "cc/websocket/frame_codec.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/json_scan.h"
#include "cc/codec/proto_time.h"

namespace kei::websocket {

namespace {

size_t SkipSpace(absl::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// Index just past the string starting at s[i] == '"'; npos if unterminated.
size_t SkipString(absl::string_view s, size_t i) {
  const char* const begin = s.data();
  const char* const end = begin + s.size();
  for (const char* p = begin + i + 1; p < end;) {
    p = json_internal::SkipPlainStringBytes(p, end);
    if (p == end) break;
    if (*p == '"') return static_cast<size_t>(p - begin) + 1;
    if (*p == '\\' && end - p < 2) break;  // a lone backslash at the end
    p += *p == '\\' ? 2 : 1;  // an escape, or a control or non-ASCII byte
  }
  return absl::string_view::npos;
}

// Index just past the JSON value starting at s[i]; npos if it is cut short.
// Only the structure is checked (strings, nesting); whoever reads the value
// validates it.
size_t SkipValue(absl::string_view s, size_t i) {
  if (i >= s.size()) return absl::string_view::npos;
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = SkipString(s, i);
        if (i == absl::string_view::npos) return i;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return absl::string_view::npos;
  }
  const size_t start = i;
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
         s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
    ++i;
  }
  return i == start ? absl::string_view::npos : i;
}

// Splits a JSON object into its "data" member's raw value and an object of
// the other members, so the envelope is parsed as a small StreamFrame and the
// payload goes on as text to whoever decodes it (a method codec, a topic)
// instead of through a google.protobuf.Value tree. False when the text is not
// a plain object (the caller then lets the full parser report the problem).
bool SplitData(absl::string_view s, std::string* envelope, absl::string_view* data,
               bool* has_data) {
  size_t i = SkipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') return false;
  envelope->assign("{");
  *has_data = false;
  i = SkipSpace(s, i + 1);
  if (i < s.size() && s[i] == '}') return SkipSpace(s, i + 1) == s.size();
  while (true) {
    if (i >= s.size() || s[i] != '"') return false;
    const size_t key_end = SkipString(s, i);
    if (key_end == absl::string_view::npos) return false;
    const absl::string_view key = s.substr(i + 1, key_end - i - 2);
    i = SkipSpace(s, key_end);
    if (i >= s.size() || s[i] != ':') return false;
    const size_t value_start = SkipSpace(s, i + 1);
    const size_t value_end = SkipValue(s, value_start);
    if (value_end == absl::string_view::npos) return false;
    if (key == "data") {
      if (*has_data) return false;  // twice: let the full parser complain
      *has_data = true;
      *data = s.substr(value_start, value_end - value_start);
    } else {
      if (envelope->size() > 1) envelope->push_back(',');
      envelope->append(s.data() + (key_end - key.size() - 2), value_end - (key_end - key.size() - 2));
    }
    i = SkipSpace(s, value_end);
    if (i < s.size() && s[i] == ',') {
      i = SkipSpace(s, i + 1);
      continue;
    }
    if (i < s.size() && s[i] == '}') break;
    return false;
  }
  envelope->push_back('}');
  return SkipSpace(s, i + 1) == s.size();
}

// Moves the frame's payload out (whoever reads the frame decides whether
// this connection takes one).
void TakePayload(ParsedFrame& parsed) {
  if (!parsed.frame.has_payload()) return;
  parsed.has_payload = true;
  parsed.payload = std::move(*parsed.frame.mutable_payload());
  parsed.frame.clear_payload();
}

}  // namespace

absl::StatusOr<ParsedFrame> ParseFrame(absl::string_view message, bool binary) {
  ParsedFrame parsed;
  if (binary) {
    if (!parsed.frame.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      return absl::InvalidArgumentError("frame: not a serialized kei.v1.StreamFrame");
    }
    TakePayload(parsed);
  } else {
    std::string envelope;
    absl::string_view data;
    bool has_data = false;
    if (SplitData(message, &envelope, &data, &has_data)) {
      absl::Status s = JsonCodec().Unmarshal(envelope, &parsed.frame);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("frame: ", s.message()));
      if (parsed.frame.type().empty()) return absl::InvalidArgumentError("frame: type is required");
      TakePayload(parsed);
      parsed.has_data = has_data;
      if (has_data) parsed.data_json = std::string(data);
      return parsed;
    }
    absl::Status s = JsonCodec().Unmarshal(message, &parsed.frame);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("frame: ", s.message()));
  }
  if (parsed.frame.type().empty()) return absl::InvalidArgumentError("frame: type is required");
  TakePayload(parsed);
  if (parsed.frame.has_data()) {
    parsed.has_data = true;
    if (auto s = JsonCodec().Marshal(parsed.frame.data(), &parsed.data_json); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("frame: data: ", s.message()));
    }
    parsed.frame.clear_data();
  }
  return parsed;
}

namespace {

// Appends `s` as a JSON string. Invalid UTF-8 (e.g. a message cut in the
// middle of a character) becomes U+FFFD, so the frame is always valid JSON.
void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        default:
          if (c < 0x20) {
            absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: copy it if it is well formed.
    size_t length = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    bool valid = length > 0 && i + length <= s.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (valid && length == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogate
    }
    if (valid && length == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (valid) {
      out->append(s.data() + i, length);
      i += length;
    } else {
      out->append("\xEF\xBF\xBD");
      ++i;
    }
  }
  out->push_back('"');
}

// RFC 3339 with nanoseconds, as proto3 JSON writes a Timestamp; the part up
// to the seconds is formatted once per second per thread.
void AppendTimestamp(int64_t seconds, int32_t nanos, std::string* out) {
  thread_local int64_t cached_second = INT64_MIN;
  thread_local std::string cached;
  if (seconds != cached_second) {
    cached_second = seconds;
    cached = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(seconds),
                              absl::UTCTimeZone());
  }
  out->push_back('"');
  out->append(cached);
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%09dZ", nanos);
  out->append(fraction);
  out->push_back('"');
}

// The frame in proto3 JSON (field names in lowerCamelCase, 64-bit integers
// as strings, defaults left out, map keys sorted), `data` last. Written
// directly: frames are the protocol's hottest output.
void AppendFrameJson(const v1::StreamFrame& frame, absl::string_view data_json, std::string* out) {
  out->push_back('{');
  bool first = true;
  auto key = [&](absl::string_view name) {
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(name.data(), name.size());
    out->append("\":");
  };
  auto string_field = [&](absl::string_view name, const std::string& value) {
    if (value.empty()) return;
    key(name);
    AppendJsonString(value, out);
  };
  auto uint64_field = [&](absl::string_view name, uint64_t value) {
    if (value == 0) return;
    key(name);
    absl::StrAppend(out, "\"", value, "\"");
  };
  auto uint32_field = [&](absl::string_view name, uint32_t value) {
    if (value == 0) return;
    key(name);
    absl::StrAppend(out, value);
  };
  string_field("type", frame.type());
  string_field("id", frame.id());
  if (frame.has_timestamp()) {
    key("timestamp");
    AppendTimestamp(frame.timestamp().seconds(), frame.timestamp().nanos(), out);
  }
  string_field("method", frame.method());
  string_field("topic", frame.topic());
  uint64_field("sequence", frame.sequence());
  uint32_field("credit", frame.credit());
  if (!frame.metadata().empty()) {
    key("metadata");
    std::vector<std::pair<std::string, std::string>> entries(frame.metadata().begin(),
                                                             frame.metadata().end());
    std::sort(entries.begin(), entries.end());
    out->push_back('{');
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out->push_back(',');
      AppendJsonString(entries[i].first, out);
      out->push_back(':');
      AppendJsonString(entries[i].second, out);
    }
    out->push_back('}');
  }
  uint32_field("timeoutMs", frame.timeout_ms());
  string_field("code", frame.code());
  string_field("message", frame.message());
  uint64_field("firstSequence", frame.first_sequence());
  if (!data_json.empty()) {
    key("data");
    out->append(data_json.data(), data_json.size());
  }
  out->push_back('}');
}

}  // namespace

namespace {

void Stamp(v1::StreamFrame& frame) {
  if (frame.has_timestamp()) return;
  TimeToProto(absl::Now(), frame.mutable_timestamp());
}

}  // namespace

std::string RenderPayloadFrame(v1::StreamFrame frame, std::string payload) {
  Stamp(frame);
  frame.set_payload(std::move(payload));
  return frame.SerializeAsString();
}

std::string RenderFrame(v1::StreamFrame frame, absl::string_view data_json, bool binary) {
  Stamp(frame);
  std::string out;
  if (binary) {
    if (!data_json.empty() && !JsonCodec().Unmarshal(data_json, frame.mutable_data()).ok()) {
      frame.clear_data();
    }
    frame.SerializeToString(&out);
    return out;
  }
  out.reserve(96 + data_json.size());
  AppendFrameJson(frame, data_json, &out);
  return out;
}

}  // namespace kei::websocket
