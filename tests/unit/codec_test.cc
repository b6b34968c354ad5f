// The proto binary and proto3 JSON codecs: round trips, the options, empty
// bodies, and bad input always being INVALID_ARGUMENT that says what is wrong.
#include <string>

#include "absl/status/status.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_time.h"
#include "cc/codec/proto_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kei/agent/v1/agent.pb.h"
#include "kei/test/v1/echo.pb.h"

namespace kei {
namespace {

using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::ExpandRequest;

TEST(ProtoCodecTest, NameIsProto) { EXPECT_EQ(ProtoCodec().name(), "proto"); }

TEST(ProtoCodecTest, RoundTrip) {
  ProtoCodec codec;
  EchoRequest in;
  in.set_text("héllo");
  in.set_delay_ms(-7);
  std::string bytes = "stale";
  ASSERT_TRUE(codec.Marshal(in, &bytes).ok());
  EXPECT_EQ(bytes, in.SerializeAsString());
  EchoRequest out;
  ASSERT_TRUE(codec.Unmarshal(bytes, &out).ok());
  EXPECT_EQ(out.text(), "héllo");
  EXPECT_EQ(out.delay_ms(), -7);
}

TEST(ProtoCodecTest, EmptyBodyIsEmptyMessageAndReplacesContents) {
  ProtoCodec codec;
  EchoRequest message;
  message.set_text("old");
  ASSERT_TRUE(codec.Unmarshal("", &message).ok());
  EXPECT_EQ(message.text(), "");
  EXPECT_EQ(message.ByteSizeLong(), 0u);

  std::string out = "stale";
  ASSERT_TRUE(codec.Marshal(EchoRequest(), &out).ok());
  EXPECT_EQ(out, "");
}

TEST(ProtoCodecTest, UnmarshalDoesNotMergeIntoOldContents) {
  ProtoCodec codec;
  EchoRequest message;
  message.set_text("old");
  message.set_delay_ms(5);
  EchoRequest only_delay;
  only_delay.set_delay_ms(9);
  ASSERT_TRUE(codec.Unmarshal(only_delay.SerializeAsString(), &message).ok());
  EXPECT_EQ(message.text(), "");
  EXPECT_EQ(message.delay_ms(), 9);
}

TEST(ProtoCodecTest, MalformedInputIsInvalidArgumentNamingTheType) {
  ProtoCodec codec;
  EchoRequest message;
  // Field 1, length 5, only two bytes follow.
  absl::Status s = codec.Unmarshal(std::string("\x0a\x05" "ab", 4), &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("kei.test.v1.EchoRequest"));

  // A truncated varint.
  s = codec.Unmarshal(std::string("\x10\xff", 2), &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);

  // Field number 0 is never valid.
  s = codec.Unmarshal(std::string("\x00\x01", 2), &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);

  // Proto3 strings must be UTF-8.
  s = codec.Unmarshal(std::string("\x0a\x02\xff\xfe", 4), &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);

  // JSON is not protobuf binary.
  s = codec.Unmarshal(R"({"text":"hi"})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonCodecTest, NameIsJson) { EXPECT_EQ(JsonCodec().name(), "json"); }

TEST(JsonCodecTest, MarshalUsesCamelCaseAndOmitsDefaults) {
  JsonCodec codec;
  EchoRequest message;
  message.set_delay_ms(12);
  std::string out = "stale";
  ASSERT_TRUE(codec.Marshal(message, &out).ok());
  EXPECT_EQ(out, R"({"delayMs":12})");

  ASSERT_TRUE(codec.Marshal(EchoRequest(), &out).ok());
  EXPECT_EQ(out, "{}");
}

TEST(JsonCodecTest, EmitDefaults) {
  JsonCodecOptions options;
  options.emit_defaults = true;
  JsonCodec codec(options);
  std::string out;
  ASSERT_TRUE(codec.Marshal(EchoRequest(), &out).ok());
  EXPECT_EQ(out, R"({"text":"","delayMs":0})");
}

TEST(JsonCodecTest, UseProtoNames) {
  JsonCodecOptions options;
  options.use_proto_names = true;
  JsonCodec codec(options);
  EchoRequest message;
  message.set_text("a");
  message.set_delay_ms(3);
  std::string out;
  ASSERT_TRUE(codec.Marshal(message, &out).ok());
  EXPECT_EQ(out, R"({"text":"a","delay_ms":3})");

  options.emit_defaults = true;
  ASSERT_TRUE(JsonCodec(options).Marshal(EchoRequest(), &out).ok());
  EXPECT_EQ(out, R"({"text":"","delay_ms":0})");
}

TEST(JsonCodecTest, PrettyOutputIsIndentedAndStillParses) {
  JsonCodecOptions options;
  options.pretty = true;
  JsonCodec codec(options);
  EchoRequest message;
  message.set_text("a");
  std::string out;
  ASSERT_TRUE(codec.Marshal(message, &out).ok());
  EXPECT_THAT(out, HasSubstr("\n"));
  EchoRequest back;
  ASSERT_TRUE(codec.Unmarshal(out, &back).ok());
  EXPECT_EQ(back.text(), "a");
}

TEST(JsonCodecTest, UnmarshalAcceptsBothFieldSpellings) {
  JsonCodec codec;
  EchoRequest message;
  ASSERT_TRUE(codec.Unmarshal(R"({"text":"x","delayMs":4})", &message).ok());
  EXPECT_EQ(message.text(), "x");
  EXPECT_EQ(message.delay_ms(), 4);
  ASSERT_TRUE(codec.Unmarshal(R"({"delay_ms":5})", &message).ok());
  EXPECT_EQ(message.text(), "");  // replaced, not merged
  EXPECT_EQ(message.delay_ms(), 5);
  // Proto3 JSON accepts integers as strings.
  ASSERT_TRUE(codec.Unmarshal(R"({"delayMs":"6"})", &message).ok());
  EXPECT_EQ(message.delay_ms(), 6);
}

TEST(JsonCodecTest, RoundTripOfNestedAndWellKnownTypes) {
  JsonCodec codec;
  agent::v1::ObserveRequest in;
  in.set_source("sensor-1");
  in.set_content("temp");
  (*in.mutable_labels())["unit"] = "C";
  std::string json;
  ASSERT_TRUE(codec.Marshal(in, &json).ok());
  EXPECT_EQ(json, R"({"source":"sensor-1","content":"temp","labels":{"unit":"C"}})");
  agent::v1::ObserveRequest out;
  ASSERT_TRUE(codec.Unmarshal(json, &out).ok());
  EXPECT_EQ(out.SerializeAsString(), in.SerializeAsString());

  agent::v1::ActRequest act;
  ASSERT_TRUE(
      codec.Unmarshal(R"({"action":"add","params":{"values":[1,2.5]}})", &act).ok());
  EXPECT_EQ(act.action(), "add");
  ASSERT_EQ(act.params().fields().at("values").list_value().values_size(), 2);
  EXPECT_EQ(act.params().fields().at("values").list_value().values(1).number_value(), 2.5);

  agent::v1::ObserveResponse observed;
  ASSERT_TRUE(
      codec.Unmarshal(R"({"recordedAt":"2024-01-02T03:04:05Z","sequence":"7"})", &observed)
          .ok());
  EXPECT_EQ(observed.recorded_at().seconds(), 1704164645);
  EXPECT_EQ(observed.sequence(), 7u);
  ASSERT_TRUE(codec.Marshal(observed, &json).ok());
  // uint64 is a string in proto3 JSON.
  EXPECT_EQ(json, R"({"sequence":"7","recordedAt":"2024-01-02T03:04:05Z"})");
}

TEST(JsonCodecTest, EmptyBodyIsEmptyMessage) {
  JsonCodec codec;
  EchoRequest message;
  message.set_text("old");
  for (const char* body : {"", " ", "\n\t\r "}) {
    message.set_text("old");
    ASSERT_TRUE(codec.Unmarshal(body, &message).ok()) << "'" << body << "'";
    EXPECT_EQ(message.text(), "");
  }
  ASSERT_TRUE(codec.Unmarshal("{}", &message).ok());
  EXPECT_EQ(message.ByteSizeLong(), 0u);
}

TEST(JsonCodecTest, UnknownFieldsAreDroppedByDefault) {
  JsonCodec codec;
  EchoRequest message;
  absl::Status s = codec.Unmarshal(R"({"text":"x","colour":"red","n":{"a":[1]}})", &message);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(message.text(), "x");
}

TEST(JsonCodecTest, RejectUnknownFieldsNamesTheField) {
  JsonCodecOptions options;
  options.reject_unknown_fields = true;
  JsonCodec codec(options);
  EchoRequest message;
  absl::Status s = codec.Unmarshal(R"({"text":"x","colour":"red"})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("colour"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("kei.test.v1.EchoRequest"));
  // Known fields still parse in strict mode.
  EXPECT_TRUE(codec.Unmarshal(R"({"text":"x","delay_ms":1})", &message).ok());
}

TEST(JsonCodecTest, WrongTypeNamesTheField) {
  JsonCodec codec;
  EchoRequest message;
  absl::Status s = codec.Unmarshal(R"({"delayMs":"soon"})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("delay"));

  s = codec.Unmarshal(R"({"text":{"nested":true}})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("text"));

  s = codec.Unmarshal(R"({"delayMs":1.5})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("delay"));

  // Out of int32 range.
  s = codec.Unmarshal(R"({"delayMs":4294967296})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("delay"));

  ExpandRequest expand;
  s = codec.Unmarshal(R"({"text":"a","count":[1]})", &expand);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("count"));
}

TEST(JsonCodecTest, WrongTypeInNestedMessageNamesTheField) {
  JsonCodec codec;
  agent::v1::ObserveRequest message;
  absl::Status s = codec.Unmarshal(R"({"source":"s","labels":{"unit":7}})", &message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("labels"));

  agent::v1::ObserveResponse observed;
  s = codec.Unmarshal(R"({"recordedAt":"yesterday"})", &observed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("recorded"));
}

TEST(JsonCodecTest, MalformedJsonIsInvalidArgument) {
  JsonCodec codec;
  EchoRequest message;
  for (const char* body : {"{", "{\"text\":}", "not json", "[1,2]", "\"text\"", "42",
                           "{\"text\":\"a\"} trailing"}) {
    SCOPED_TRACE(body);
    absl::Status s = codec.Unmarshal(body, &message);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr("kei.test.v1.EchoRequest"));
  }
}

// ---- proto_time.h ------------------------------------------------------------------

TEST(ProtoTimeTest, TimesRoundTripWithNonNegativeNanos) {
  for (absl::Time t : {absl::FromUnixNanos(1764441600123456789), absl::FromUnixNanos(-1500000000),
                       absl::UnixEpoch()}) {
    google::protobuf::Timestamp proto;
    TimeToProto(t, &proto);
    EXPECT_GE(proto.nanos(), 0);
    EXPECT_LT(proto.nanos(), 1000000000);
    EXPECT_EQ(TimeFromProto(proto), t);
  }
  google::protobuf::Timestamp before_1970;
  TimeToProto(absl::FromUnixNanos(-1500000000), &before_1970);
  EXPECT_EQ(before_1970.seconds(), -2);
  EXPECT_EQ(before_1970.nanos(), 500000000);
}

TEST(ProtoTimeTest, TimesOutsideATimestampAreClampedToItsRange) {
  google::protobuf::Timestamp proto;
  TimeToProto(absl::InfiniteFuture(), &proto);
  EXPECT_EQ(proto.seconds(), 253402300799);  // 9999-12-31T23:59:59Z
  EXPECT_EQ(proto.nanos(), 999999999);
  TimeToProto(absl::InfinitePast(), &proto);
  EXPECT_EQ(proto.seconds(), -62135596800);  // 0001-01-01T00:00:00Z
  EXPECT_EQ(proto.nanos(), 0);
}

TEST(ProtoTimeTest, DurationsKeepOneSign) {
  google::protobuf::Duration proto;
  DurationToProto(absl::Milliseconds(-1500), &proto);
  EXPECT_EQ(proto.seconds(), -1);
  EXPECT_EQ(proto.nanos(), -500000000);
  EXPECT_EQ(DurationFromProto(proto), absl::Milliseconds(-1500));
  DurationToProto(absl::Milliseconds(2250), &proto);
  EXPECT_EQ(proto.seconds(), 2);
  EXPECT_EQ(proto.nanos(), 250000000);
}

}  // namespace
}  // namespace kei
