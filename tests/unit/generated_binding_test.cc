// The code protoc-gen-kei generates for a service with every call kind: a typed
// handler interface whose default methods answer UNIMPLEMENTED, and a binding
// whose registry entries carry the right method infos and drive the typed
// methods through the Dispatcher for unary, server, client and bidi streaming.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/codec/json_codec.h"
#include "cc/dispatch/dispatcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.kei.h"
#include "kei/test/v1/echo.pb.h"

namespace kei {
namespace {

using ::testing::HasSubstr;
using test::v1::BindEchoService;
using test::v1::EchoRequest;
using test::v1::EchoResponse;
using test::v1::EchoServiceHandler;
using test::v1::ExpandRequest;

// An in-test stream: a queue of inputs and a vector of outputs.
class QueueStream final : public StreamIO {
 public:
  template <class M>
  void Push(const M& message) {
    inputs_.push_back(message.SerializeAsString());
  }
  bool Read(google::protobuf::Message* message) override {
    ++reads;
    if (inputs_.empty()) return false;
    bool ok = message->ParseFromString(inputs_.front());
    inputs_.pop_front();
    return ok;
  }
  bool Write(const google::protobuf::Message& message) override {
    if (writes_left == 0) return false;
    if (writes_left > 0) --writes_left;
    outputs.push_back(message.SerializeAsString());
    return true;
  }
  std::vector<EchoResponse> Responses() const {
    std::vector<EchoResponse> out;
    for (const auto& bytes : outputs) {
      EchoResponse r;
      EXPECT_TRUE(r.ParseFromString(bytes));
      out.push_back(r);
    }
    return out;
  }

  std::vector<std::string> outputs;
  int reads = 0;
  int writes_left = -1;  // -1: unlimited; otherwise the caller goes away after N.

 private:
  std::deque<std::string> inputs_;
};

class Echoer final : public EchoServiceHandler {
 public:
  absl::Status Echo(Context& context, const EchoRequest& request,
                    EchoResponse* response) override {
    last_protocol = std::string(context.protocol());
    if (request.text().empty()) return absl::InvalidArgumentError("text: must not be empty");
    response->set_text(request.text());
    return absl::OkStatus();
  }
  absl::Status Expand(Context&, const ExpandRequest& request,
                      StreamWriter<EchoResponse>& stream) override {
    if (request.count() < 0) return absl::InvalidArgumentError("count: must be >= 0");
    for (int i = 0; i < request.count(); ++i) {
      EchoResponse r;
      r.set_text(request.text());
      r.set_index(i);
      if (!stream.Send(r)) return absl::CancelledError("caller went away");
    }
    return absl::OkStatus();
  }
  absl::Status Collect(Context&, StreamReader<EchoRequest>& stream,
                       EchoResponse* response) override {
    std::vector<std::string> parts;
    EchoRequest request;
    while (stream.Receive(&request)) parts.push_back(request.text());
    response->set_text(absl::StrJoin(parts, " "));
    response->set_index(static_cast<int>(parts.size()));
    return absl::OkStatus();
  }
  absl::Status Chat(Context&, BidiStream<EchoRequest, EchoResponse>& stream) override {
    EchoRequest request;
    int index = 0;
    while (stream.Receive(&request)) {
      EchoResponse r;
      r.set_text(absl::StrCat("re: ", request.text()));
      r.set_index(index++);
      if (!stream.Send(r)) return absl::CancelledError("caller went away");
    }
    return absl::OkStatus();
  }

  std::string last_protocol;
};

// Implements nothing: every method answers UNIMPLEMENTED.
class Nothing final : public EchoServiceHandler {};

class GeneratedBindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echoer_ = std::make_shared<Echoer>();
    binding_ = BindEchoService(echoer_);
    for (const auto& m : binding_.methods) {
      ASSERT_TRUE(dispatcher_.registry().Register(m).ok()) << m.info.full_name;
    }
  }
  const MethodHandler& Method(const char* name) {
    const MethodHandler* h =
        dispatcher_.registry().Find(absl::StrCat("kei.test.v1.EchoService/", name));
    EXPECT_NE(h, nullptr) << name;
    return *h;
  }

  std::shared_ptr<Echoer> echoer_;
  ServiceBinding binding_;
  Dispatcher dispatcher_;
};

TEST_F(GeneratedBindingTest, BindingDescribesTheService) {
  ASSERT_NE(binding_.descriptor, nullptr);
  EXPECT_EQ(binding_.descriptor->full_name(), "kei.test.v1.EchoService");
  EXPECT_EQ(binding_.implementation.get(), static_cast<void*>(echoer_.get()));
  EXPECT_TRUE(static_cast<bool>(binding_.grpc_service));
  ASSERT_EQ(binding_.methods.size(), 4u);
  EXPECT_THAT(dispatcher_.registry().MethodNames(),
              ::testing::ElementsAre("kei.test.v1.EchoService/Chat",
                                     "kei.test.v1.EchoService/Collect",
                                     "kei.test.v1.EchoService/Echo",
                                     "kei.test.v1.EchoService/Expand"));
  // Registering the same binding twice is refused.
  EXPECT_EQ(dispatcher_.registry().Register(binding_.methods[0]).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(GeneratedBindingTest, MethodInfos) {
  const MethodHandler& echo = Method("Echo");
  EXPECT_EQ(echo.info.kind, StreamKind::kUnary);
  EXPECT_TRUE(echo.info.idempotent);        // NO_SIDE_EFFECTS
  EXPECT_TRUE(echo.info.side_effect_free);  // NO_SIDE_EFFECTS
  EXPECT_EQ(echo.info.path, "/kei.test.v1.EchoService/Echo");
  EXPECT_EQ(echo.info.service_name, "kei.test.v1.EchoService");
  EXPECT_EQ(echo.info.method_name, "Echo");
  EXPECT_TRUE(static_cast<bool>(echo.unary));
  EXPECT_FALSE(static_cast<bool>(echo.stream));
  EXPECT_EQ(echo.request_prototype, &EchoRequest::default_instance());
  EXPECT_EQ(echo.response_prototype, &EchoResponse::default_instance());
  EXPECT_EQ(echo.info.descriptor, binding_.descriptor->FindMethodByName("Echo"));

  const MethodHandler& expand = Method("Expand");
  EXPECT_EQ(expand.info.kind, StreamKind::kServerStreaming);
  EXPECT_FALSE(expand.info.idempotent);
  EXPECT_FALSE(expand.info.side_effect_free);
  EXPECT_EQ(expand.info.path, "/kei.test.v1.EchoService/Expand");
  EXPECT_FALSE(static_cast<bool>(expand.unary));
  EXPECT_TRUE(static_cast<bool>(expand.stream));
  EXPECT_EQ(expand.request_prototype, &ExpandRequest::default_instance());
  EXPECT_EQ(expand.response_prototype, &EchoResponse::default_instance());

  const MethodHandler& collect = Method("Collect");
  EXPECT_EQ(collect.info.kind, StreamKind::kClientStreaming);
  EXPECT_FALSE(collect.info.idempotent);
  EXPECT_EQ(collect.info.path, "/kei.test.v1.EchoService/Collect");
  EXPECT_TRUE(static_cast<bool>(collect.stream));
  EXPECT_EQ(collect.request_prototype, &EchoRequest::default_instance());

  const MethodHandler& chat = Method("Chat");
  EXPECT_EQ(chat.info.kind, StreamKind::kBidiStreaming);
  EXPECT_FALSE(chat.info.idempotent);
  EXPECT_EQ(chat.info.path, "/kei.test.v1.EchoService/Chat");
  EXPECT_TRUE(static_cast<bool>(chat.stream));
}

TEST_F(GeneratedBindingTest, UnaryThroughTheDispatcher) {
  Context context;
  context.set_protocol("ws");
  EchoRequest request;
  request.set_text("ping");
  EchoResponse response;
  ASSERT_TRUE(dispatcher_.Unary(Method("Echo"), context, request, &response).ok());
  EXPECT_EQ(response.text(), "ping");
  EXPECT_EQ(echoer_->last_protocol, "ws");

  Context bad;
  EXPECT_EQ(dispatcher_.Unary(Method("Echo"), bad, EchoRequest(), &response),
            absl::InvalidArgumentError("text: must not be empty"));
}

TEST_F(GeneratedBindingTest, UnaryEncodedThroughTheDispatcher) {
  Context context;
  std::string out;
  ASSERT_TRUE(
      dispatcher_.UnaryEncoded(Method("Echo"), context, JsonCodec(), R"({"text":"j"})", &out)
          .ok());
  EXPECT_EQ(out, R"({"text":"j"})");
}

TEST_F(GeneratedBindingTest, ServerStreaming) {
  QueueStream io;
  ExpandRequest request;
  request.set_text("copy");
  request.set_count(3);
  io.Push(request);
  Context context;
  ASSERT_TRUE(dispatcher_.Stream(Method("Expand"), context, io).ok());
  auto responses = io.Responses();
  ASSERT_EQ(responses.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(responses[i].text(), "copy");
    EXPECT_EQ(responses[i].index(), i);
  }
  // The single request is read once; nothing more is asked of the caller.
  EXPECT_EQ(io.reads, 1);
}

TEST_F(GeneratedBindingTest, ServerStreamingWithoutRequestIsInvalidArgument) {
  QueueStream io;
  Context context;
  absl::Status s = dispatcher_.Stream(Method("Expand"), context, io);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("request"));
  EXPECT_TRUE(io.outputs.empty());
}

TEST_F(GeneratedBindingTest, ServerStreamingStopsWhenTheCallerGoesAway) {
  QueueStream io;
  io.writes_left = 2;
  ExpandRequest request;
  request.set_text("x");
  request.set_count(10);
  io.Push(request);
  Context context;
  EXPECT_EQ(dispatcher_.Stream(Method("Expand"), context, io).code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(io.outputs.size(), 2u);
}

TEST_F(GeneratedBindingTest, ClientStreaming) {
  QueueStream io;
  for (const char* text : {"one", "two", "three"}) {
    EchoRequest r;
    r.set_text(text);
    io.Push(r);
  }
  Context context;
  ASSERT_TRUE(dispatcher_.Stream(Method("Collect"), context, io).ok());
  auto responses = io.Responses();
  ASSERT_EQ(responses.size(), 1u);  // exactly one response
  EXPECT_EQ(responses[0].text(), "one two three");
  EXPECT_EQ(responses[0].index(), 3);
}

TEST_F(GeneratedBindingTest, ClientStreamingWithNoMessagesStillAnswersOnce) {
  QueueStream io;
  Context context;
  ASSERT_TRUE(dispatcher_.Stream(Method("Collect"), context, io).ok());
  auto responses = io.Responses();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].text(), "");
  EXPECT_EQ(responses[0].index(), 0);
}

TEST_F(GeneratedBindingTest, ClientStreamingCallerGoneBeforeTheResponse) {
  QueueStream io;
  io.writes_left = 0;
  Context context;
  EXPECT_EQ(dispatcher_.Stream(Method("Collect"), context, io).code(),
            absl::StatusCode::kCancelled);
}

TEST_F(GeneratedBindingTest, BidiStreaming) {
  QueueStream io;
  for (const char* text : {"a", "b"}) {
    EchoRequest r;
    r.set_text(text);
    io.Push(r);
  }
  Context context;
  ASSERT_TRUE(dispatcher_.Stream(Method("Chat"), context, io).ok());
  auto responses = io.Responses();
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].text(), "re: a");
  EXPECT_EQ(responses[0].index(), 0);
  EXPECT_EQ(responses[1].text(), "re: b");
  EXPECT_EQ(responses[1].index(), 1);
}

TEST_F(GeneratedBindingTest, WrongEntryPointsAreUnimplemented) {
  QueueStream io;
  Context c1;
  EXPECT_EQ(dispatcher_.Stream(Method("Echo"), c1, io).code(),
            absl::StatusCode::kUnimplemented);
  EchoResponse response;
  Context c2;
  EXPECT_EQ(dispatcher_.Unary(Method("Chat"), c2, EchoRequest(), &response).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(GeneratedDefaultsTest, UnimplementedMethodsAnswerUnimplemented) {
  Dispatcher dispatcher;
  ServiceBinding binding = BindEchoService(std::make_shared<Nothing>());
  for (const auto& m : binding.methods) ASSERT_TRUE(dispatcher.registry().Register(m).ok());
  const HandlerRegistry& registry = dispatcher.registry();

  Context c1;
  EchoRequest request;
  request.set_text("x");
  EchoResponse response;
  absl::Status s =
      dispatcher.Unary(*registry.Find("kei.test.v1.EchoService/Echo"), c1, request, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("kei.test.v1.EchoService/Echo"));

  QueueStream expand_io;
  ExpandRequest expand;
  expand.set_count(2);
  expand_io.Push(expand);
  Context c2;
  s = dispatcher.Stream(*registry.Find("kei.test.v1.EchoService/Expand"), c2, expand_io);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("Expand"));

  QueueStream collect_io;
  collect_io.Push(request);
  Context c3;
  s = dispatcher.Stream(*registry.Find("kei.test.v1.EchoService/Collect"), c3, collect_io);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("Collect"));
  // A failed client stream sends no response message.
  EXPECT_TRUE(collect_io.outputs.empty());

  QueueStream chat_io;
  chat_io.Push(request);
  Context c4;
  s = dispatcher.Stream(*registry.Find("kei.test.v1.EchoService/Chat"), c4, chat_io);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("Chat"));
  EXPECT_TRUE(chat_io.outputs.empty());
}

TEST(GeneratedDefaultsTest, BindingKeepsTheImplementationAlive) {
  std::weak_ptr<Echoer> weak;
  ServiceBinding binding;
  {
    auto handler = std::make_shared<Echoer>();
    weak = handler;
    binding = BindEchoService(handler);
  }
  ASSERT_FALSE(weak.expired());
  Dispatcher dispatcher;
  Context context;
  EchoRequest request;
  request.set_text("alive");
  EchoResponse response;
  ASSERT_TRUE(dispatcher.Unary(binding.methods[0], context, request, &response).ok());
  EXPECT_EQ(response.text(), "alive");
  binding = ServiceBinding();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace kei
