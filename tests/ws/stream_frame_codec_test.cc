// Frames on the wire: proto3 JSON names (timeoutMs, firstSequence), both
// spellings accepted, messages through `data` as JSON text, codes to
// statuses, welcome.
#include "clients/ws/stream_frame_codec.h"

#include "gtest/gtest.h"
#include "kei/test/v1/echo.pb.h"

namespace kei::ws {
namespace {

TEST(StreamFrameCodecTest, EncodesProto3JsonNames) {
  v1::StreamFrame frame;
  frame.set_type("call");
  frame.set_id("1");
  frame.set_method("kei.test.v1.EchoService/Echo");
  frame.set_timeout_ms(250);
  frame.set_first_sequence(3);
  auto text = EncodeFrame(frame);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("\"timeoutMs\":250"), std::string::npos) << *text;
  EXPECT_NE(text->find("\"firstSequence\":\"3\""), std::string::npos) << *text;
  auto back = DecodeFrame(*text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->timeout_ms(), 250u);
  EXPECT_EQ(back->first_sequence(), 3u);
}

TEST(StreamFrameCodecTest, DecodesSnakeCaseAndNumbers) {
  auto frame = DecodeFrame(
      R"({"type":"subscribed","id":"s1","topic":"t","sequence":41,"first_sequence":1,)"
      R"("timestamp":"2026-11-29T05:00:00Z"})");
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->sequence(), 41u);
  EXPECT_EQ(frame->first_sequence(), 1u);
  EXPECT_EQ(frame->timestamp().seconds() > 0, true);
  EXPECT_FALSE(DecodeFrame("not json").ok());
  EXPECT_FALSE(DecodeFrame(R"({"type":5})").ok());
}

TEST(StreamFrameCodecTest, MessagesRoundTripThroughDataJson) {
  test::v1::EchoRequest request;
  request.set_text("hi \"there\"");
  request.set_delay_ms(7);
  auto json = MessageToJson(request);
  ASSERT_TRUE(json.ok()) << json.status();
  v1::StreamFrame frame;
  frame.set_type("message");
  frame.set_id("c1");
  auto text = RenderFrame(frame, *json);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("\"timestamp\":"), std::string::npos) << *text;  // stamped

  // The data stays JSON text on the way in: no Value tree in between.
  auto parsed = ParseFrame(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->frame.type(), "message");
  EXPECT_EQ(parsed->frame.id(), "c1");
  EXPECT_FALSE(parsed->frame.has_data());
  ASSERT_TRUE(parsed->has_data);
  test::v1::EchoRequest decoded;
  ASSERT_TRUE(JsonToMessage(parsed->data_json, &decoded).ok());
  EXPECT_EQ(decoded.text(), "hi \"there\"");
  EXPECT_EQ(decoded.delay_ms(), 7);

  // Application handlers get the data as a Value.
  auto full = WithDataValue(*parsed);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->data().struct_value().fields().at("delayMs").number_value(), 7);

  // A frame built with a Value renders the same data.
  auto from_value = RenderFrame(*full);
  ASSERT_TRUE(from_value.ok());
  auto reparsed = ParseFrame(*from_value);
  ASSERT_TRUE(reparsed.ok());
  ASSERT_TRUE(JsonToMessage(reparsed->data_json, &decoded).ok());
  EXPECT_EQ(decoded.delay_ms(), 7);
  EXPECT_FALSE(RenderFrame(*full, "{}").ok());  // data twice

  // Data that does not fit the message is an error naming the type.
  auto bad = JsonToMessage(R"({"text":5})", &decoded);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("EchoRequest"), std::string::npos) << bad;
  EXPECT_FALSE(ParseFrame("not json").ok());
  EXPECT_FALSE(ParseFrame(R"({"type":"message","data":{"x":)").ok());
}

TEST(StreamFrameCodecTest, StatusFromFrame) {
  v1::StreamFrame frame;
  frame.set_type("end");
  frame.set_code("ok");
  EXPECT_TRUE(StatusFromFrame(frame).ok());
  frame.set_type("error");
  frame.set_code("invalid_argument");
  frame.set_message("bad");
  EXPECT_EQ(StatusFromFrame(frame), absl::InvalidArgumentError("bad"));
  frame.set_code("DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusFromFrame(frame).code(), absl::StatusCode::kDeadlineExceeded);
  frame.set_code("");
  EXPECT_FALSE(StatusFromFrame(frame).ok());
}

TEST(StreamFrameCodecTest, ParsesWelcome) {
  auto frame = DecodeFrame(
      R"({"type":"welcome","data":{"protocol":"kei.stream.v1","maxMessageBytes":2048,)"
      R"("sendQueueBytes":4194304,"initialCredit":8}})");
  ASSERT_TRUE(frame.ok());
  WelcomeInfo info = ParseWelcome(*frame);
  EXPECT_EQ(info.protocol, "kei.stream.v1");
  EXPECT_EQ(info.max_message_bytes, 2048);
  EXPECT_EQ(info.initial_credit, 8u);
  EXPECT_EQ(ParseWelcome(v1::StreamFrame()).initial_credit, 64u);
}

}  // namespace
}  // namespace kei::ws
