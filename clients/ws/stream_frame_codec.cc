#include "clients/ws/stream_frame_codec.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/codec/proto_time.h"
#include "cc/status/code_names.h"

namespace kei::ws {
namespace {

const JsonCodec& Codec() {
  static const JsonCodec* codec = new JsonCodec();
  return *codec;
}

const ProtoCodec& Proto() {
  static const ProtoCodec* codec = new ProtoCodec();
  return *codec;
}

}  // namespace

absl::StatusOr<std::string> EncodeFrame(const v1::StreamFrame& frame) {
  std::string out;
  if (absl::Status s = Codec().Marshal(frame, &out); !s.ok()) {
    return absl::InternalError(absl::StrCat("encoding a ", frame.type(), " frame: ", s.message()));
  }
  return out;
}

absl::StatusOr<v1::StreamFrame> DecodeFrame(absl::string_view text) {
  v1::StreamFrame frame;
  if (absl::Status s = Codec().Unmarshal(text, &frame); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a StreamFrame: ", s.message()));
  }
  return frame;
}

void StampFrame(v1::StreamFrame* frame, absl::Time now) {
  TimeToProto(now, frame->mutable_timestamp());
}

absl::StatusOr<Frame> ParseFrame(absl::string_view message, bool binary) {
  return websocket::ParseFrame(message, binary);
}

absl::StatusOr<std::string> RenderFrame(v1::StreamFrame frame, absl::string_view data_json,
                                        bool binary) {
  std::string value_json;
  if (frame.has_data()) {
    if (!data_json.empty()) {
      return absl::InternalError("a frame with both a data Value and data JSON");
    }
    if (binary) {
      if (!frame.has_timestamp()) StampFrame(&frame);
      return frame.SerializeAsString();
    }
    if (absl::Status s = Codec().Marshal(frame.data(), &value_json); !s.ok()) {
      return absl::InternalError(
          absl::StrCat("encoding a ", frame.type(), " frame's data: ", s.message()));
    }
    frame.clear_data();
    data_json = value_json;
  }
  return websocket::RenderFrame(std::move(frame), data_json, binary);
}

absl::StatusOr<v1::StreamFrame> WithDataValue(const Frame& frame) {
  v1::StreamFrame full = frame.frame;
  if (frame.has_data) {
    if (absl::Status s = Codec().Unmarshal(frame.data_json, full.mutable_data()); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", full.type(), " frame's data is not JSON: ", s.message()));
    }
  }
  return full;
}

absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message) {
  std::string json;
  if (absl::Status s = Codec().Marshal(message, &json); !s.ok()) {
    return absl::InternalError(absl::StrCat("encoding ", message.GetTypeName(), ": ", s.message()));
  }
  return json;
}

absl::Status JsonToMessage(absl::string_view json, google::protobuf::Message* message) {
  if (absl::Status s = Codec().Unmarshal(json, message); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoding ", message->GetTypeName(), ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<CallMessage> EncodeCallMessage(const google::protobuf::Message& message,
                                              bool proto) {
  CallMessage encoded;
  encoded.proto = proto;
  if (proto) {
    if (absl::Status s = Proto().Marshal(message, &encoded.bytes); !s.ok()) {
      return absl::InternalError(absl::StrCat("encoding ", message.GetTypeName(), ": ", s.message()));
    }
    return encoded;
  }
  auto json = MessageToJson(message);
  if (!json.ok()) return json.status();
  encoded.bytes = *std::move(json);
  return encoded;
}

absl::Status DecodeCallMessage(const CallMessage& encoded, google::protobuf::Message* message) {
  if (!encoded.proto) return JsonToMessage(encoded.bytes, message);
  return Proto().Unmarshal(encoded.bytes, message);
}

CallMessage CallMessageOf(const Frame& frame) {
  if (frame.has_payload) return CallMessage{frame.payload, true};
  return CallMessage{frame.data_json, false};
}

std::string RenderCallFrame(v1::StreamFrame frame, CallMessage message) {
  if (message.proto) return websocket::RenderPayloadFrame(std::move(frame), std::move(message.bytes));
  return websocket::RenderFrame(std::move(frame), message.bytes, /*binary=*/false);
}

absl::StatusOr<google::protobuf::Value> ParseJsonValue(absl::string_view json) {
  google::protobuf::Value value;
  if (absl::Status s = Codec().Unmarshal(json, &value); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", s.message()));
  }
  return value;
}

absl::StatusOr<std::string> ValueToJson(const google::protobuf::Value& value) {
  std::string json;
  if (absl::Status s = Codec().Marshal(value, &json); !s.ok()) return s;
  return json;
}

absl::Status StatusFromFrame(const v1::StreamFrame& frame) {
  if (frame.code().empty() || frame.code() == "ok" || frame.code() == "OK") {
    if (frame.type() == kErrorFrame) {
      return absl::UnknownError(frame.message().empty() ? "error frame without a code"
                                                        : frame.message());
    }
    return absl::OkStatus();
  }
  std::optional<absl::StatusCode> code = CodeFromName(frame.code());
  if (!code.has_value()) {
    return absl::UnknownError(absl::StrCat("unknown code '", frame.code(), "': ", frame.message()));
  }
  return absl::Status(*code, frame.message());
}

WelcomeInfo ParseWelcome(const v1::StreamFrame& frame) {
  WelcomeInfo info;
  if (!frame.data().has_struct_value()) return info;
  const auto& fields = frame.data().struct_value().fields();
  auto number = [&](const char* name, const char* snake_name) -> std::optional<double> {
    for (const char* key : {name, snake_name}) {
      auto it = fields.find(key);
      if (it == fields.end()) continue;
      if (it->second.has_number_value()) return it->second.number_value();
      double parsed = 0;
      if (it->second.has_string_value() && absl::SimpleAtod(it->second.string_value(), &parsed)) {
        return parsed;
      }
    }
    return std::nullopt;
  };
  if (auto it = fields.find("protocol"); it != fields.end()) info.protocol = it->second.string_value();
  if (auto v = number("maxMessageBytes", "max_message_bytes"); v && *v > 0) {
    info.max_message_bytes = static_cast<int64_t>(*v);
  }
  if (auto v = number("sendQueueBytes", "send_queue_bytes"); v && *v > 0) {
    info.send_queue_bytes = static_cast<int64_t>(*v);
  }
  if (auto v = number("initialCredit", "initial_credit"); v && *v > 0) {
    info.initial_credit = static_cast<uint32_t>(*v);
  }
  if (auto it = fields.find("payload"); it != fields.end()) info.payload = it->second.bool_value();
  return info;
}

}  // namespace kei::ws
