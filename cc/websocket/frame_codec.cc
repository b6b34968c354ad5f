#include "cc/websocket/frame_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/codec/json_codec.h"

namespace kei::websocket {

absl::StatusOr<ParsedFrame> ParseFrame(absl::string_view message, bool binary) {
  ParsedFrame parsed;
  if (binary) {
    if (!parsed.frame.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      return absl::InvalidArgumentError("frame: not a serialized kei.v1.StreamFrame");
    }
  } else {
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
