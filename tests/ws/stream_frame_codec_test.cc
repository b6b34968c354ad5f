// Frames on the wire: proto3 JSON names (timeoutMs, firstSequence), both
// spellings accepted, messages through `data`, codes to statuses, welcome.
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

TEST(StreamFrameCodecTest, MessagesRoundTripThroughData) {
  test::v1::EchoRequest request;
  request.set_text("hi");
  request.set_delay_ms(7);
  v1::StreamFrame frame;
  ASSERT_TRUE(MessageToValue(request, frame.mutable_data()).ok());
  ASSERT_TRUE(frame.data().has_struct_value());
  EXPECT_EQ(frame.data().struct_value().fields().at("delayMs").number_value(), 7);
  auto text = EncodeFrame(frame);
  ASSERT_TRUE(text.ok());
  auto back = DecodeFrame(*text);
  ASSERT_TRUE(back.ok());
  test::v1::EchoRequest decoded;
  ASSERT_TRUE(ValueToMessage(back->data(), &decoded).ok());
  EXPECT_EQ(decoded.text(), "hi");
  EXPECT_EQ(decoded.delay_ms(), 7);
  auto value = ParseJsonValue(R"({"text":5,"unknown":[1]})");
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE(ValueToMessage(*value, &decoded).ok());
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
