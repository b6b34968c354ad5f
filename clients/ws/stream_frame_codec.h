// The KEI stream protocol's frames on the client side (docs/websocket-protocol.md).
// A frame travels as its StreamFrame without `data` plus `data` as proto3 JSON
// text, the same split the server makes (cc/websocket/frame_codec.h): a call's
// message goes straight between its JSON and the method's message through the
// kit's JSON codec (so the wire matches what Connect and REST clients send),
// and only application payloads (topic events, handlers) become a
// google.protobuf.Value.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/websocket/frame_codec.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "kei/v1/stream.pb.h"

namespace kei::ws {

// Frame types (docs/websocket-protocol.md).
inline constexpr absl::string_view kCallFrame = "call";
inline constexpr absl::string_view kMessageFrame = "message";
inline constexpr absl::string_view kHalfCloseFrame = "half_close";
inline constexpr absl::string_view kCancelFrame = "cancel";
inline constexpr absl::string_view kCreditFrame = "credit";
inline constexpr absl::string_view kSubscribeFrame = "subscribe";
inline constexpr absl::string_view kUnsubscribeFrame = "unsubscribe";
inline constexpr absl::string_view kPublishFrame = "publish";
inline constexpr absl::string_view kWelcomeFrame = "welcome";
inline constexpr absl::string_view kResponseFrame = "response";
inline constexpr absl::string_view kEndFrame = "end";
inline constexpr absl::string_view kErrorFrame = "error";
inline constexpr absl::string_view kSubscribedFrame = "subscribed";
inline constexpr absl::string_view kEventFrame = "event";
inline constexpr absl::string_view kUnsubscribedFrame = "unsubscribed";
inline constexpr absl::string_view kPublishedFrame = "published";

// The subprotocol whose frames are StreamFrames in proto3 JSON text frames.
inline constexpr absl::string_view kJsonSubprotocol = "kei.stream.v1.json";
// The subprotocol whose frames are serialized StreamFrames in binary frames,
// a call's messages serialized in `payload`.
inline constexpr absl::string_view kProtoSubprotocol = "kei.stream.v1.proto";
// Where keid serves the stream protocol on its HTTP listener.
inline constexpr absl::string_view kStreamPath = "/api/v1/stream";

// A received frame: `frame` without `data`, and `data_json`, the frame's
// `data` as the server wrote it (checked for structure only; decoding it into
// a message or a Value validates it).
using Frame = websocket::ParsedFrame;

// Parses one frame (a text frame, or a binary one when `binary`), leaving
// `data` as JSON text. INVALID_ARGUMENT when it is not a StreamFrame.
absl::StatusOr<Frame> ParseFrame(absl::string_view message, bool binary = false);
// The frame for `frame` (its `data`, if set, is written from the Value) or,
// when `data_json` is not empty, with that JSON as its `data`; a text frame,
// or a binary one when `binary`; stamped with the current time unless it has
// a timestamp.
absl::StatusOr<std::string> RenderFrame(v1::StreamFrame frame, absl::string_view data_json = {},
                                        bool binary = false);
// `frame` with its data as a google.protobuf.Value, for application handlers.
absl::StatusOr<v1::StreamFrame> WithDataValue(const Frame& frame);

// The proto3 JSON of `frame` (one text frame), data included.
absl::StatusOr<std::string> EncodeFrame(const v1::StreamFrame& frame);
// Parses one text frame into a StreamFrame, data as a Value. INVALID_ARGUMENT
// when it is not a StreamFrame.
absl::StatusOr<v1::StreamFrame> DecodeFrame(absl::string_view text);

// Sets the frame's timestamp (RFC 3339 on the wire) to `now`.
void StampFrame(v1::StreamFrame* frame, absl::Time now = absl::Now());

// `message` as the JSON a frame's `data` holds.
absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message);
// A frame's `data` into `message` (replacing its contents); an empty text is
// the empty message. INVALID_ARGUMENT when it does not fit the message.
absl::Status JsonToMessage(absl::string_view json, google::protobuf::Message* message);

// A call's request or response message as a connection carries it: protobuf
// binary in `payload` (proto connections) or proto3 JSON in `data`.
struct CallMessage {
  std::string bytes;
  bool proto = false;
};
absl::StatusOr<CallMessage> EncodeCallMessage(const google::protobuf::Message& message,
                                              bool proto);
// Replaces `message`'s contents. INVALID_ARGUMENT when the bytes do not fit.
absl::Status DecodeCallMessage(const CallMessage& encoded, google::protobuf::Message* message);
// The call message a received frame carries: its payload, else its data (an
// absent one is the empty message).
CallMessage CallMessageOf(const Frame& frame);
// The frame for `frame` carrying `message`: binary with `payload` for a proto
// message, text with `data` for a JSON one.
std::string RenderCallFrame(v1::StreamFrame frame, CallMessage message);
// JSON text to and from a Value, for application payloads.
absl::StatusOr<google::protobuf::Value> ParseJsonValue(absl::string_view json);
absl::StatusOr<std::string> ValueToJson(const google::protobuf::Value& value);

// The status an `error` or `end` frame carries: its canonical `code` name
// ("invalid_argument" or "INVALID_ARGUMENT"; "" and "ok" are OK) and message.
absl::Status StatusFromFrame(const v1::StreamFrame& frame);

// What the server announced in its `welcome` frame.
struct WelcomeInfo {
  std::string protocol;
  int64_t max_message_bytes = 1 << 20;
  int64_t send_queue_bytes = 4 << 20;
  // How many request messages a call may send before the server grants more.
  uint32_t initial_credit = 64;
  // On proto connections: call messages travel serialized in `payload`
  // (older servers carried them as JSON values in `data`).
  bool payload = false;
};
// Reads a welcome frame's data; fields it lacks keep their defaults.
WelcomeInfo ParseWelcome(const v1::StreamFrame& frame);

}  // namespace kei::ws
