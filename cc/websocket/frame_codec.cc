#include "cc/websocket/frame_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/codec/json_codec.h"

namespace kei::websocket {

namespace {

size_t SkipSpace(absl::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// Index just past the string starting at s[i] == '"'; npos if unterminated.
size_t SkipString(absl::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
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

}  // namespace

absl::StatusOr<ParsedFrame> ParseFrame(absl::string_view message, bool binary) {
  ParsedFrame parsed;
  if (binary) {
    if (!parsed.frame.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      return absl::InvalidArgumentError("frame: not a serialized kei.v1.StreamFrame");
    }
  } else {
    std::string envelope;
    absl::string_view data;
    bool has_data = false;
    if (SplitData(message, &envelope, &data, &has_data)) {
      absl::Status s = JsonCodec().Unmarshal(envelope, &parsed.frame);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("frame: ", s.message()));
      if (parsed.frame.type().empty()) return absl::InvalidArgumentError("frame: type is required");
      parsed.has_data = has_data;
      if (has_data) parsed.data_json = std::string(data);
      return parsed;
    }
    absl::Status s = JsonCodec().Unmarshal(message, &parsed.frame);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("frame: ", s.message()));
  }
  if (parsed.frame.type().empty()) return absl::InvalidArgumentError("frame: type is required");
  if (parsed.frame.has_data()) {
    parsed.has_data = true;
    if (auto s = JsonCodec().Marshal(parsed.frame.data(), &parsed.data_json); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("frame: data: ", s.message()));
    }
    parsed.frame.clear_data();
  }
  return parsed;
}

std::string RenderFrame(v1::StreamFrame frame, absl::string_view data_json, bool binary) {
  if (!frame.has_timestamp()) {
    const int64_t nanos = absl::ToUnixNanos(absl::Now());
    frame.mutable_timestamp()->set_seconds(nanos / 1000000000);
    frame.mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  std::string out;
  if (binary) {
    if (!data_json.empty() && !JsonCodec().Unmarshal(data_json, frame.mutable_data()).ok()) {
      frame.clear_data();
    }
    frame.SerializeToString(&out);
    return out;
  }
  frame.clear_data();
  if (!JsonCodec().Marshal(frame, &out).ok() || out.empty() || out.back() != '}') {
    out = "{}";
  }
  if (!data_json.empty()) {
    out.pop_back();
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, "\"data\":", data_json, "}");
  }
  return out;
}

}  // namespace kei::websocket
