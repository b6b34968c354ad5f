// Descriptor sets loaded at run time, for types this binary was NOT compiled
// with (the test deliberately does not link //tests/proto:echo): methods resolve,
// NewMessage gives a working DynamicMessage that round-trips through both codecs,
// and files that are not descriptor sets fail clearly.
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/registry/descriptor_registry.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

using ::testing::HasSubstr;
namespace gp = google::protobuf;

std::string EchoDescriptorSetPath() {
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    std::string path = std::string(srcdir) + "/kei/tests/proto/echo_descriptor_set.pb";
    if (std::ifstream(path).good()) return path;
  }
  if (const char* path = std::getenv("KEI_ECHO_DESCRIPTOR_SET")) return path;
  return "";
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string WriteFile(const std::string& name, const std::string& contents) {
  std::string path = TempPath(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

class DynamicDescriptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = EchoDescriptorSetPath();
    ASSERT_FALSE(path_.empty())
        << "set TEST_SRCDIR (bazel) or KEI_ECHO_DESCRIPTOR_SET to the echo descriptor set";
  }
  std::string path_;
};

TEST_F(DynamicDescriptorTest, TypesAreNotCompiledIn) {
  // Guards the premise of this test: otherwise nothing here would be dynamic.
  EXPECT_EQ(gp::DescriptorPool::generated_pool()->FindMessageTypeByName(
                "kei.test.v1.EchoRequest"),
            nullptr);
  DescriptorRegistry registry;
  EXPECT_EQ(registry.FindMessage("kei.test.v1.EchoRequest"), nullptr);
  EXPECT_EQ(registry.FindMethod("kei.test.v1.EchoService/Echo").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST_F(DynamicDescriptorTest, LoadedMethodsResolveInEverySpelling) {
  DescriptorRegistry registry;
  absl::Status loaded = registry.LoadDescriptorSetFile(path_);
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_NE(registry.FindFile("kei/test/v1/echo.proto"), nullptr);
  EXPECT_NE(registry.FindService("kei.test.v1.EchoService"), nullptr);

  for (const char* name : {"kei.test.v1.EchoService/Echo", "/kei.test.v1.EchoService/Echo",
                           "kei.test.v1.EchoService.Echo"}) {
    SCOPED_TRACE(name);
    auto info = registry.FindMethod(name);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->full_name, "kei.test.v1.EchoService/Echo");
    EXPECT_EQ(info->kind, StreamKind::kUnary);
    EXPECT_TRUE(info->idempotent);
    EXPECT_TRUE(info->side_effect_free);
  }
  auto expand = registry.FindMethod("kei.test.v1.EchoService/Expand");
  ASSERT_TRUE(expand.ok());
  EXPECT_EQ(expand->kind, StreamKind::kServerStreaming);
  EXPECT_FALSE(expand->idempotent);
  EXPECT_EQ(registry.FindMethod("kei.test.v1.EchoService/Collect")->kind,
            StreamKind::kClientStreaming);
  EXPECT_EQ(registry.FindMethod("kei.test.v1.EchoService/Chat")->kind,
            StreamKind::kBidiStreaming);
  EXPECT_EQ(registry.FindMethod("kei.test.v1.EchoService/Nope").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST_F(DynamicDescriptorTest, LoadingTwiceIsHarmless) {
  DescriptorRegistry registry;
  ASSERT_TRUE(registry.LoadDescriptorSetFile(path_).ok());
  ASSERT_TRUE(registry.LoadDescriptorSetFile(path_).ok());
  EXPECT_TRUE(registry.FindMethod("kei.test.v1.EchoService/Echo").ok());
}

TEST_F(DynamicDescriptorTest, NewMessageIsAWorkingDynamicMessage) {
  DescriptorRegistry registry;
  ASSERT_TRUE(registry.LoadDescriptorSetFile(path_).ok());
  auto info = registry.FindMethod("kei.test.v1.EchoService/Echo");
  ASSERT_TRUE(info.ok());
  const gp::Descriptor* type = info->descriptor->input_type();
  ASSERT_EQ(type->full_name(), "kei.test.v1.EchoRequest");
  EXPECT_EQ(type, registry.FindMessage("kei.test.v1.EchoRequest"));

  std::unique_ptr<gp::Message> request = registry.NewMessage(type);
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->GetDescriptor(), type);
  EXPECT_EQ(request->GetDescriptor()->file()->pool(), registry.pool());

  JsonCodec json;
  ASSERT_TRUE(json.Unmarshal(R"({"text":"hi there","delay_ms":25})", request.get()).ok());
  const gp::Reflection* reflection = request->GetReflection();
  EXPECT_EQ(reflection->GetString(*request, type->FindFieldByName("text")), "hi there");
  EXPECT_EQ(reflection->GetInt32(*request, type->FindFieldByName("delay_ms")), 25);

  std::string out;
  ASSERT_TRUE(json.Marshal(*request, &out).ok());
  EXPECT_EQ(out, R"({"text":"hi there","delayMs":25})");

  // Through proto binary and back into a second dynamic instance.
  ProtoCodec proto;
  std::string bytes;
  ASSERT_TRUE(proto.Marshal(*request, &bytes).ok());
  std::unique_ptr<gp::Message> copy = registry.NewMessage(type);
  ASSERT_TRUE(proto.Unmarshal(bytes, copy.get()).ok());
  ASSERT_TRUE(json.Marshal(*copy, &out).ok());
  EXPECT_EQ(out, R"({"text":"hi there","delayMs":25})");

  // The dynamic type is strict about its fields like a generated one.
  JsonCodecOptions strict;
  strict.reject_unknown_fields = true;
  absl::Status s = JsonCodec(strict).Unmarshal(R"({"txt":"x"})", request.get());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("txt"));
  s = json.Unmarshal(R"({"delayMs":"later"})", request.get());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DynamicDescriptorTest, ResponseTypeOfStreamingMethodIsUsable) {
  DescriptorRegistry registry;
  ASSERT_TRUE(registry.LoadDescriptorSetFile(path_).ok());
  auto info = registry.FindMethod("kei.test.v1.EchoService/Expand");
  ASSERT_TRUE(info.ok());
  std::unique_ptr<gp::Message> request = registry.NewMessage(info->descriptor->input_type());
  std::unique_ptr<gp::Message> response =
      registry.NewMessage(info->descriptor->output_type());
  ASSERT_NE(request, nullptr);
  ASSERT_NE(response, nullptr);
  JsonCodec json;
  ASSERT_TRUE(json.Unmarshal(R"({"text":"a","count":3})", request.get()).ok());
  ASSERT_TRUE(json.Unmarshal(R"({"text":"a","index":2})", response.get()).ok());
  std::string out;
  ASSERT_TRUE(json.Marshal(*response, &out).ok());
  EXPECT_EQ(out, R"({"text":"a","index":2})");
}

TEST(DescriptorSetFileTest, MissingFileIsNotFound) {
  DescriptorRegistry registry;
  absl::Status s = registry.LoadDescriptorSetFile(TempPath("does-not-exist.pb"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("does-not-exist.pb"));
}

TEST(DescriptorSetFileTest, TextFilesAreRejectedClearly) {
  DescriptorRegistry registry;
  for (const auto& [name, contents] :
       std::vector<std::pair<std::string, std::string>>{
           {"echo.proto", "// A comment.\nsyntax = \"proto3\";\npackage x;\n"},
           {"config.json", R"({"descriptor": "set"})"},
           {"notes.txt", "this is not a descriptor set\n"}}) {
    SCOPED_TRACE(name);
    std::string path = WriteFile(name, contents);
    absl::Status s = registry.LoadDescriptorSetFile(path);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr(path));
    EXPECT_THAT(std::string(s.message()), HasSubstr("FileDescriptorSet"));
  }
}

TEST(DescriptorSetFileTest, EmptyFileIsRejected) {
  DescriptorRegistry registry;
  std::string path = WriteFile("empty.pb", "");
  absl::Status s = registry.LoadDescriptorSetFile(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
}

TEST(DescriptorSetFileTest, OtherProtobufMessagesAreRejected) {
  // A serialized message that is valid protobuf but not a descriptor set: a
  // FileDescriptorSet whose "file" is the bytes "hi" parses as a nameless file.
  DescriptorRegistry registry;
  std::string path = WriteFile("echo_request.bin", std::string("\x0a\x02hi", 4));
  absl::Status s = registry.LoadDescriptorSetFile(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
}

}  // namespace
}  // namespace kei
