// MethodInfo and the DescriptorRegistry over compiled-in descriptors: names in
// every spelling, stream kinds, retry safety, and the errors for unknown or
// malformed method names.
#include <string>

#include "absl/status/status.h"
#include "cc/registry/descriptor_registry.h"
#include "cc/registry/method_info.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kei/agent/v1/agent.pb.h"
#include "kei/test/v1/echo.pb.h"

namespace kei {
namespace {

using ::testing::HasSubstr;
namespace gp = google::protobuf;

const gp::ServiceDescriptor* EchoService() {
  return test::v1::EchoRequest::descriptor()->file()->FindServiceByName("EchoService");
}

TEST(StreamKindNameTest, Names) {
  EXPECT_EQ(StreamKindName(StreamKind::kUnary), "unary");
  EXPECT_EQ(StreamKindName(StreamKind::kServerStreaming), "server_streaming");
  EXPECT_EQ(StreamKindName(StreamKind::kClientStreaming), "client_streaming");
  EXPECT_EQ(StreamKindName(StreamKind::kBidiStreaming), "bidi_streaming");
}

TEST(MethodInfoTest, FromDescriptorForEveryKind) {
  const gp::ServiceDescriptor* service = EchoService();
  ASSERT_NE(service, nullptr);

  MethodInfo echo = MethodInfo::FromDescriptor(service->FindMethodByName("Echo"));
  EXPECT_EQ(echo.full_name, "kei.test.v1.EchoService/Echo");
  EXPECT_EQ(echo.path, "/kei.test.v1.EchoService/Echo");
  EXPECT_EQ(echo.service_name, "kei.test.v1.EchoService");
  EXPECT_EQ(echo.method_name, "Echo");
  EXPECT_EQ(echo.kind, StreamKind::kUnary);
  EXPECT_TRUE(echo.idempotent);
  EXPECT_TRUE(echo.side_effect_free);
  EXPECT_EQ(echo.descriptor, service->FindMethodByName("Echo"));

  MethodInfo expand = MethodInfo::FromDescriptor(service->FindMethodByName("Expand"));
  EXPECT_EQ(expand.kind, StreamKind::kServerStreaming);
  EXPECT_FALSE(expand.idempotent);
  EXPECT_FALSE(expand.side_effect_free);

  MethodInfo collect = MethodInfo::FromDescriptor(service->FindMethodByName("Collect"));
  EXPECT_EQ(collect.kind, StreamKind::kClientStreaming);

  MethodInfo chat = MethodInfo::FromDescriptor(service->FindMethodByName("Chat"));
  EXPECT_EQ(chat.kind, StreamKind::kBidiStreaming);
  EXPECT_EQ(chat.path, "/kei.test.v1.EchoService/Chat");
}

TEST(MethodInfoTest, IdempotencyLevels) {
  const gp::ServiceDescriptor* agent =
      agent::v1::PlanRequest::descriptor()->file()->FindServiceByName("AgentService");
  ASSERT_NE(agent, nullptr);
  MethodInfo plan = MethodInfo::FromDescriptor(agent->FindMethodByName("Plan"));
  EXPECT_TRUE(plan.idempotent);         // IDEMPOTENT
  EXPECT_FALSE(plan.side_effect_free);  // but not safe for GET
  MethodInfo explain = MethodInfo::FromDescriptor(agent->FindMethodByName("Explain"));
  EXPECT_TRUE(explain.idempotent);
  EXPECT_TRUE(explain.side_effect_free);
  MethodInfo act = MethodInfo::FromDescriptor(agent->FindMethodByName("Act"));
  EXPECT_FALSE(act.idempotent);
  EXPECT_FALSE(act.side_effect_free);
  MethodInfo watch = MethodInfo::FromDescriptor(agent->FindMethodByName("Watch"));
  EXPECT_EQ(watch.kind, StreamKind::kServerStreaming);
  EXPECT_TRUE(watch.side_effect_free);
}

TEST(CanonicalMethodNameTest, AcceptedSpellings) {
  EXPECT_EQ(CanonicalMethodName("pkg.Service/Method"), "pkg.Service/Method");
  EXPECT_EQ(CanonicalMethodName("/pkg.Service/Method"), "pkg.Service/Method");
  EXPECT_EQ(CanonicalMethodName("pkg.Service.Method"), "pkg.Service/Method");
  EXPECT_EQ(CanonicalMethodName("a.b.c.Service.Method"), "a.b.c.Service/Method");
  EXPECT_EQ(CanonicalMethodName("Service/Method"), "Service/Method");
  EXPECT_EQ(CanonicalMethodName("Service.Method"), "Service/Method");
}

TEST(CanonicalMethodNameTest, RejectedSpellings) {
  for (const char* bad : {"", "/", "//", "Method", "/Method", "pkg.Service/",
                          "/pkg.Service/", "/Method/", "a/b/c", "/a/b/c", ".Method",
                          "Service.", "pkg.Service//Method"}) {
    EXPECT_EQ(CanonicalMethodName(bad), "") << "'" << bad << "'";
  }
}

TEST(DescriptorRegistryTest, FindMethodInAllSpellings) {
  DescriptorRegistry& registry = DescriptorRegistry::Default();
  for (const char* name :
       {"kei.agent.v1.AgentService/Plan", "/kei.agent.v1.AgentService/Plan",
        "kei.agent.v1.AgentService.Plan"}) {
    SCOPED_TRACE(name);
    auto info = registry.FindMethod(name);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->full_name, "kei.agent.v1.AgentService/Plan");
    EXPECT_EQ(info->path, "/kei.agent.v1.AgentService/Plan");
    EXPECT_EQ(info->kind, StreamKind::kUnary);
    EXPECT_TRUE(info->idempotent);
    ASSERT_NE(info->descriptor, nullptr);
    EXPECT_EQ(info->descriptor->input_type()->full_name(), "kei.agent.v1.PlanRequest");
  }
  auto session = registry.FindMethod("kei.agent.v1.AgentService/Session");
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->kind, StreamKind::kBidiStreaming);
  auto chat = registry.FindMethod("kei.test.v1.EchoService.Chat");
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->kind, StreamKind::kBidiStreaming);
}

TEST(DescriptorRegistryTest, UnknownServiceOrMethodIsUnimplemented) {
  DescriptorRegistry& registry = DescriptorRegistry::Default();
  auto s = registry.FindMethod("kei.agent.v1.NoSuchService/Plan");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("kei.agent.v1.NoSuchService"));

  s = registry.FindMethod("kei.agent.v1.AgentService/Fly");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("Fly"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("kei.agent.v1.AgentService"));

  // A message is not a service.
  s = registry.FindMethod("kei.agent.v1.PlanRequest/Plan");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
  // Method names are case-sensitive.
  s = registry.FindMethod("kei.agent.v1.AgentService/plan");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(DescriptorRegistryTest, BadNamesAreInvalidArgument) {
  DescriptorRegistry& registry = DescriptorRegistry::Default();
  for (const char* bad : {"", "Plan", "/", "a/b/c", "kei.agent.v1.AgentService/"}) {
    SCOPED_TRACE(bad);
    auto s = registry.FindMethod(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("package.Service/Method"));
  }
}

TEST(DescriptorRegistryTest, FindServiceMessageAndFile) {
  DescriptorRegistry registry;
  EXPECT_NE(registry.FindService("kei.agent.v1.AgentService"), nullptr);
  EXPECT_EQ(registry.FindService("kei.agent.v1.PlanRequest"), nullptr);
  EXPECT_NE(registry.FindMessage("kei.agent.v1.PlanRequest"), nullptr);
  EXPECT_EQ(registry.FindMessage("kei.agent.v1.AgentService"), nullptr);
  EXPECT_NE(registry.FindFile("kei/agent/v1/agent.proto"), nullptr);
  EXPECT_EQ(registry.FindFile("nope.proto"), nullptr);
}

TEST(DescriptorRegistryTest, NewMessageOfCompiledInTypeIsTheGeneratedClass) {
  DescriptorRegistry& registry = DescriptorRegistry::Default();
  const gp::Descriptor* type = registry.FindMessage("kei.test.v1.EchoRequest");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type, test::v1::EchoRequest::descriptor());
  std::unique_ptr<gp::Message> message = registry.NewMessage(type);
  ASSERT_NE(message, nullptr);
  EXPECT_NE(dynamic_cast<test::v1::EchoRequest*>(message.get()), nullptr);
  EXPECT_EQ(registry.NewMessage(nullptr), nullptr);
}

TEST(DescriptorRegistryTest, AddingCompiledInFilesAgainIsANoOp) {
  DescriptorRegistry registry;
  gp::FileDescriptorSet set;
  test::v1::EchoRequest::descriptor()->file()->CopyTo(set.add_file());
  ASSERT_TRUE(registry.AddFileDescriptorSet(set).ok());
  EXPECT_EQ(registry.FindMessage("kei.test.v1.EchoRequest"),
            test::v1::EchoRequest::descriptor());
}

TEST(DescriptorRegistryTest, FilesInAnyOrderAndMissingDependency) {
  DescriptorRegistry registry;
  gp::FileDescriptorSet set;
  // b.proto imports a.proto but comes first in the set.
  gp::FileDescriptorProto* b = set.add_file();
  b->set_name("unit/b.proto");
  b->set_package("unit");
  b->set_syntax("proto3");
  b->add_dependency("unit/a.proto");
  auto* holder = b->add_message_type();
  holder->set_name("Holder");
  auto* field = holder->add_field();
  field->set_name("a");
  field->set_number(1);
  field->set_label(gp::FieldDescriptorProto::LABEL_OPTIONAL);
  field->set_type(gp::FieldDescriptorProto::TYPE_MESSAGE);
  field->set_type_name(".unit.A");
  gp::FileDescriptorProto* a = set.add_file();
  a->set_name("unit/a.proto");
  a->set_package("unit");
  a->set_syntax("proto3");
  a->add_message_type()->set_name("A");
  ASSERT_TRUE(registry.AddFileDescriptorSet(set).ok());
  EXPECT_NE(registry.FindMessage("unit.Holder"), nullptr);
  EXPECT_NE(registry.FindMessage("unit.A"), nullptr);

  DescriptorRegistry other;
  gp::FileDescriptorSet only_b;
  *only_b.add_file() = *b;
  absl::Status s = other.AddFileDescriptorSet(only_b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unit/b.proto"));
  EXPECT_EQ(other.FindMessage("unit.Holder"), nullptr);
}

TEST(DescriptorRegistryTest, OversizedSetIsRejectedBeforeBuilding) {
  // A long dependency chain from an untrusted source must not exhaust the stack.
  gp::FileDescriptorSet set;
  for (int i = 0; i < 5000; ++i) {
    gp::FileDescriptorProto* file = set.add_file();
    file->set_name("chain/f" + std::to_string(i) + ".proto");
    if (i > 0) file->add_dependency("chain/f" + std::to_string(i - 1) + ".proto");
  }
  DescriptorRegistry registry;
  absl::Status s = registry.AddFileDescriptorSet(set);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("at most 4096"));
}

}  // namespace
}  // namespace kei
