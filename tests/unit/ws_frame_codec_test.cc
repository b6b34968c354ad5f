// The server's StreamFrame codec: the envelope is parsed, `data` is carried
// as raw JSON text (structure checked, content left to its decoder), and bad
// input becomes INVALID_ARGUMENT, never a crash.
#include "cc/websocket/frame_codec.h"

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace kei::websocket {
namespace {

TEST(WsFrameCodecTest, SplitsTheDataMemberOffTheEnvelope) {
  auto parsed = ParseFrame(
      R"( {"type":"call", "id":"7","method":"a.B/C","data": {"s":"}{\"]","n":[1,{"x":2}]} ,)"
      R"("timeoutMs":250,"metadata":{"k":"v"}} )",
      false);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->frame.type(), "call");
  EXPECT_EQ(parsed->frame.id(), "7");
  EXPECT_EQ(parsed->frame.method(), "a.B/C");
  EXPECT_EQ(parsed->frame.timeout_ms(), 250u);
  EXPECT_EQ(parsed->frame.metadata().at("k"), "v");
  EXPECT_TRUE(parsed->has_data);
  EXPECT_EQ(parsed->data_json, R"({"s":"}{\"]","n":[1,{"x":2}]})");
  EXPECT_FALSE(parsed->frame.has_data());
}

TEST(WsFrameCodecTest, ScalarNullAndMissingData) {
  auto number = ParseFrame(R"({"type":"publish","data":42})", false);
  ASSERT_TRUE(number.ok());
  EXPECT_EQ(number->data_json, "42");
  auto null = ParseFrame(R"({"data":null,"type":"publish"})", false);
  ASSERT_TRUE(null.ok());
  EXPECT_TRUE(null->has_data);
  EXPECT_EQ(null->data_json, "null");
  auto none = ParseFrame(R"({"type":"half_close","id":"x"})", false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_data);
  auto sequence = ParseFrame(R"({"type":"subscribe","sequence":"42","topic":"t"})", false);
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(sequence->frame.sequence(), 42u);
}

TEST(WsFrameCodecTest, BadInputIsInvalidArgument) {
  for (const char* text :
       {"", "not json", "[]", "{", R"({"type":"call")", R"({"type":"call","data":{"a":1})",
        R"({"type":"call","data":"unterminated})", R"({"id":"x"})", R"({"type":7})",
        R"({"type":"call"} trailing)",
        R"({"type":"call","unknownField":1,"data":})"}) {
    auto parsed = ParseFrame(text, false);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(WsFrameCodecTest, RenderedJsonIsProto3JsonOfTheFrame) {
  v1::StreamFrame frame;
  frame.set_type("error");
  frame.set_id("q\"\\\n\x01id");
  frame.set_method("a.B/C");
  frame.set_topic("t");
  frame.set_sequence(18446744073709551615ull);
  frame.set_credit(7);
  (*frame.mutable_metadata())["b"] = "2";
  (*frame.mutable_metadata())["a"] = "\xe2\x82\xac";  // a valid euro sign
  frame.set_timeout_ms(250);
  frame.set_code("not_found");
  frame.set_message("cut \xe2\x82");  // a character cut short: invalid UTF-8
  frame.set_first_sequence(3);
  frame.mutable_timestamp()->set_seconds(1764391335);
  frame.mutable_timestamp()->set_nanos(5);
  const std::string text = RenderFrame(frame, R"([1,2])", false);
  auto parsed = ParseFrame(text, false);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << " " << text;
  v1::StreamFrame expected = frame;
  expected.set_message("cut \xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed->frame, expected))
      << parsed->frame.ShortDebugString() << " vs " << expected.ShortDebugString();
  EXPECT_EQ(parsed->data_json, "[1,2]");
  EXPECT_NE(text.find(R"("sequence":"18446744073709551615")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("timestamp":"2025-11-29T04:42:15.000000005Z")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("metadata":{"a":)"), std::string::npos) << text;  // sorted keys
}

TEST(WsFrameCodecTest, RendersDataSplicedIn) {
  v1::StreamFrame frame;
  frame.set_type("response");
  frame.set_id("1");
  std::string text = RenderFrame(frame, R"({"ok":true})", false);
  auto parsed = ParseFrame(text, false);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << " " << text;
  EXPECT_EQ(parsed->frame.type(), "response");
  EXPECT_TRUE(parsed->frame.has_timestamp());
  EXPECT_EQ(parsed->data_json, R"({"ok":true})");

  std::string binary = RenderFrame(frame, R"({"ok":true})", true);
  auto from_binary = ParseFrame(binary, true);
  ASSERT_TRUE(from_binary.ok()) << from_binary.status();
  EXPECT_EQ(from_binary->data_json, R"({"ok":true})");
}

}  // namespace
}  // namespace kei::websocket
