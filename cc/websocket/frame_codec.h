// StreamFrame in and out of WebSocket messages. Text frames are proto3 JSON;
// binary frames (the "kei.stream.v1.proto" subprotocol) are serialized
// StreamFrames. Either way the frame's `data` travels to and from the adapter
// as one JSON text, which is what the JSON codec and topics consume, so a
// response is spliced into its frame instead of being re-parsed; on binary
// frames a call's message travels serialized in `payload`, untouched here.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kei/v1/stream.pb.h"

namespace kei::websocket {

struct ParsedFrame {
  v1::StreamFrame frame;  // `data` and `payload` cleared
  bool has_data = false;
  // The frame's `data` as JSON text, when has_data. From a text frame it is
  // the client's bytes, checked for structure only: decode it (method codec,
  // JsonCodec into a Value) before trusting it.
  std::string data_json;
  // The frame's `payload` (a call's message, serialized; only proto
  // connections take one), moved out of `frame`.
  bool has_payload = false;
  std::string payload;
};

// INVALID_ARGUMENT with a message naming what is wrong.
absl::StatusOr<ParsedFrame> ParseFrame(absl::string_view message, bool binary);

// The message for `frame` with `data_json` (JSON text; empty: no data) as its
// data, stamped with the current time unless it has a timestamp.
std::string RenderFrame(v1::StreamFrame frame, absl::string_view data_json, bool binary);
// The binary message for `frame` with `payload` (a serialized call message,
// possibly empty) as its payload, stamped as RenderFrame does.
std::string RenderPayloadFrame(v1::StreamFrame frame, std::string payload);

}  // namespace kei::websocket
