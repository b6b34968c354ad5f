// The Dispatcher (the one execution path) and its HandlerRegistry: interceptor
// order and unwinding, deadlines, cancellation, encoded unary calls with both
// codecs, and handler lookup in every spelling.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/dispatch/handler_registry.h"
#include "cc/dispatch/interceptor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.pb.h"

namespace kei {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;

const google::protobuf::MethodDescriptor* EchoMethod(const char* name) {
  return EchoRequest::descriptor()->file()->FindServiceByName("EchoService")->FindMethodByName(
      name);
}

// A unary handler that echoes `text` and counts its runs.
MethodHandler EchoHandler(int* runs) {
  MethodHandler h;
  h.info = MethodInfo::FromDescriptor(EchoMethod("Echo"));
  h.request_prototype = &EchoRequest::default_instance();
  h.response_prototype = &EchoResponse::default_instance();
  h.unary = [runs](Context& context, const google::protobuf::Message& request,
                   google::protobuf::Message* response) {
    ++*runs;
    const auto& req = static_cast<const EchoRequest&>(request);
    auto* resp = static_cast<EchoResponse*>(response);
    resp->set_text(req.text());
    resp->set_index(req.delay_ms());
    if (req.text() == "fail") return absl::NotFoundError("no such thing");
    return absl::OkStatus();
  };
  return h;
}

// Records every start and end into a shared log.
class Recorder final : public Interceptor {
 public:
  Recorder(std::string name, std::vector<std::string>* log,
           absl::Status start_status = absl::OkStatus())
      : name_(std::move(name)), log_(log), start_status_(std::move(start_status)) {}

  absl::Status OnCallStart(const MethodInfo& method, Context& context) override {
    log_->push_back(absl::StrCat(name_, ".start ", method.method_name));
    EXPECT_EQ(context.method(), &method);
    return start_status_;
  }
  void OnCallEnd(const MethodInfo& method, Context&, const absl::Status& status) override {
    log_->push_back(absl::StrCat(name_, ".end ", absl::StatusCodeToString(status.code())));
  }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  absl::Status start_status_;
};

// An in-test stream: a queue of inputs and a vector of outputs.
class QueueStream final : public StreamIO {
 public:
  std::deque<std::string> inputs;  // serialized requests
  std::vector<std::string> outputs;
  bool Read(google::protobuf::Message* message) override {
    if (inputs.empty()) return false;
    bool ok = message->ParseFromString(inputs.front());
    inputs.pop_front();
    return ok;
  }
  bool Write(const google::protobuf::Message& message) override {
    outputs.push_back(message.SerializeAsString());
    return true;
  }
};

TEST(DispatcherTest, UnaryRunsInterceptorsInOrderAndEndsInReverse) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  dispatcher.AddInterceptor(std::make_shared<Recorder>("b", &log));
  dispatcher.AddInterceptor(std::make_shared<Recorder>("c", &log));
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  Context context;
  EchoRequest request;
  request.set_text("hello");
  EchoResponse response;
  absl::Status s = dispatcher.Unary(handler, context, request, &response);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(response.text(), "hello");
  EXPECT_EQ(context.method(), &handler.info);
  EXPECT_THAT(log, ElementsAre("a.start Echo", "b.start Echo", "c.start Echo", "c.end OK",
                               "b.end OK", "a.end OK"));
}

TEST(DispatcherTest, HandlerErrorIsReturnedAndSeenByInterceptors) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  Context context;
  EchoRequest request;
  request.set_text("fail");
  EchoResponse response;
  absl::Status s = dispatcher.Unary(handler, context, request, &response);
  EXPECT_EQ(s, absl::NotFoundError("no such thing"));
  EXPECT_THAT(log, ElementsAre("a.start Echo", "a.end NOT_FOUND"));
}

TEST(DispatcherTest, FailingStartStopsTheCallAndUnwindsOnlyStartedInterceptors) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  dispatcher.AddInterceptor(std::make_shared<Recorder>("b", &log));
  dispatcher.AddInterceptor(
      std::make_shared<Recorder>("c", &log, absl::PermissionDeniedError("no entry")));
  dispatcher.AddInterceptor(std::make_shared<Recorder>("d", &log));
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  Context context;
  EchoResponse response;
  absl::Status s = dispatcher.Unary(handler, context, EchoRequest(), &response);
  EXPECT_EQ(s, absl::PermissionDeniedError("no entry"));
  EXPECT_EQ(runs, 0);
  // c failed: it gets no OnCallEnd, d never started; b and a unwind in reverse.
  EXPECT_THAT(log, ElementsAre("a.start Echo", "b.start Echo", "c.start Echo",
                               "b.end PERMISSION_DENIED", "a.end PERMISSION_DENIED"));
}

TEST(DispatcherTest, FirstInterceptorFailingEndsNobody) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(
      std::make_shared<Recorder>("a", &log, absl::UnauthenticatedError("who?")));
  dispatcher.AddInterceptor(std::make_shared<Recorder>("b", &log));
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  Context context;
  EchoResponse response;
  EXPECT_EQ(dispatcher.Unary(handler, context, EchoRequest(), &response).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(runs, 0);
  EXPECT_THAT(log, ElementsAre("a.start Echo"));
}

TEST(DispatcherTest, PassedDeadlineFailsWithoutRunningTheHandler) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  Context context;
  context.set_deadline(absl::Now() - absl::Milliseconds(1));
  EchoResponse response;
  absl::Status s = dispatcher.Unary(handler, context, EchoRequest(), &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(runs, 0);
  EXPECT_THAT(log, ElementsAre("a.start Echo", "a.end DEADLINE_EXCEEDED"));

  QueueStream io;
  MethodHandler streaming;
  streaming.info = MethodInfo::FromDescriptor(EchoMethod("Chat"));
  streaming.stream = [&runs](Context&, StreamIO&) {
    ++runs;
    return absl::OkStatus();
  };
  EXPECT_EQ(dispatcher.Stream(streaming, context, io).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(runs, 0);
}

TEST(DispatcherTest, CancelledCallFailsWithoutRunningTheHandler) {
  Dispatcher dispatcher;
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  Context context;
  CancellationToken token;
  token.Cancel();
  context.set_cancellation(token);
  EchoResponse response;
  EXPECT_EQ(dispatcher.Unary(handler, context, EchoRequest(), &response).code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(runs, 0);
}

TEST(DispatcherTest, OkAfterTheDeadlineIsDeadlineExceeded) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  MethodHandler handler;
  handler.info = MethodInfo::FromDescriptor(EchoMethod("Echo"));
  handler.unary = [](Context& context, const google::protobuf::Message&,
                     google::protobuf::Message*) {
    absl::SleepFor(context.remaining() + absl::Milliseconds(5));
    return absl::OkStatus();
  };
  Context context;
  context.set_deadline(absl::Now() + absl::Milliseconds(10));
  EchoResponse response;
  EXPECT_EQ(dispatcher.Unary(handler, context, EchoRequest(), &response).code(),
            absl::StatusCode::kDeadlineExceeded);
  // Interceptors see the settled status too.
  EXPECT_THAT(log, ElementsAre("a.start Echo", "a.end DEADLINE_EXCEEDED"));
}

TEST(DispatcherTest, ErrorAfterTheDeadlineKeepsTheHandlersCode) {
  Dispatcher dispatcher;
  MethodHandler handler;
  handler.info = MethodInfo::FromDescriptor(EchoMethod("Echo"));
  handler.unary = [](Context& context, const google::protobuf::Message&,
                     google::protobuf::Message*) {
    absl::SleepFor(context.remaining() + absl::Milliseconds(5));
    return absl::AbortedError("gave up");
  };
  Context context;
  context.set_deadline(absl::Now() + absl::Milliseconds(10));
  EchoResponse response;
  EXPECT_EQ(dispatcher.Unary(handler, context, EchoRequest(), &response),
            absl::AbortedError("gave up"));
}

TEST(DispatcherTest, StreamOkAfterTheDeadlineIsDeadlineExceeded) {
  Dispatcher dispatcher;
  MethodHandler handler;
  handler.info = MethodInfo::FromDescriptor(EchoMethod("Expand"));
  handler.stream = [](Context& context, StreamIO& io) {
    absl::SleepFor(context.remaining() + absl::Milliseconds(5));
    io.Write(EchoResponse());
    return absl::OkStatus();
  };
  Context context;
  context.set_deadline(absl::Now() + absl::Milliseconds(10));
  QueueStream io;
  EXPECT_EQ(dispatcher.Stream(handler, context, io).code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(DispatcherTest, HandlerSeesTheDeadlineAndCallerFacts) {
  Dispatcher dispatcher;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  MethodHandler handler;
  handler.info = MethodInfo::FromDescriptor(EchoMethod("Echo"));
  handler.unary = [deadline](Context& context, const google::protobuf::Message&,
                             google::protobuf::Message* response) {
    EXPECT_EQ(context.deadline(), deadline);
    EXPECT_EQ(context.protocol(), "http");
    EXPECT_EQ(FirstValue(context.metadata(), "x-trace"), "t1");
    EXPECT_EQ(context.method()->full_name, "kei.test.v1.EchoService/Echo");
    context.AddResponseMetadata("x-answer", "42");
    static_cast<EchoResponse*>(response)->set_text("seen");
    return absl::OkStatus();
  };
  Context context;
  context.set_deadline(deadline);
  context.set_protocol("http");
  context.mutable_metadata().emplace("x-trace", "t1");
  EchoResponse response;
  ASSERT_TRUE(dispatcher.Unary(handler, context, EchoRequest(), &response).ok());
  EXPECT_EQ(response.text(), "seen");
  EXPECT_EQ(FirstValue(context.response_metadata(), "x-answer"), "42");
}

TEST(DispatcherTest, WrongEntryPointIsUnimplemented) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  int runs = 0;
  MethodHandler unary = EchoHandler(&runs);
  Context context;
  QueueStream io;
  absl::Status s = dispatcher.Stream(unary, context, io);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("kei.test.v1.EchoService/Echo"));
  EXPECT_EQ(runs, 0);

  MethodHandler streaming;
  streaming.info = MethodInfo::FromDescriptor(EchoMethod("Chat"));
  streaming.stream = [](Context&, StreamIO&) { return absl::OkStatus(); };
  EchoResponse response;
  Context context2;
  s = dispatcher.Unary(streaming, context2, EchoRequest(), &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("kei.test.v1.EchoService/Chat"));
  // The chain still ran and unwound for both.
  EXPECT_THAT(log, ElementsAre("a.start Echo", "a.end UNIMPLEMENTED", "a.start Chat",
                               "a.end UNIMPLEMENTED"));
}

TEST(DispatcherTest, StreamRunsTheHandlerOverTheStream) {
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>("a", &log));
  MethodHandler handler;
  handler.info = MethodInfo::FromDescriptor(EchoMethod("Chat"));
  handler.stream = [](Context&, StreamIO& io) {
    EchoRequest request;
    int index = 0;
    while (io.Read(&request)) {
      EchoResponse response;
      response.set_text(request.text());
      response.set_index(index++);
      if (!io.Write(response)) return absl::CancelledError("gone");
    }
    return absl::OkStatus();
  };
  QueueStream io;
  for (const char* text : {"x", "y"}) {
    EchoRequest r;
    r.set_text(text);
    io.inputs.push_back(r.SerializeAsString());
  }
  Context context;
  ASSERT_TRUE(dispatcher.Stream(handler, context, io).ok());
  ASSERT_EQ(io.outputs.size(), 2u);
  EchoResponse second;
  ASSERT_TRUE(second.ParseFromString(io.outputs[1]));
  EXPECT_EQ(second.text(), "y");
  EXPECT_EQ(second.index(), 1);
  EXPECT_THAT(log, ElementsAre("a.start Chat", "a.end OK"));
}

TEST(DispatcherTest, UnaryEncodedWithJson) {
  Dispatcher dispatcher;
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  JsonCodec json;
  Context context;
  std::string out;
  absl::Status s =
      dispatcher.UnaryEncoded(handler, context, json, R"({"text":"hi","delayMs":3})", &out);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(out, R"({"text":"hi","index":3})");
  EXPECT_EQ(runs, 1);

  // Empty body = empty message; empty response = "{}".
  Context context2;
  ASSERT_TRUE(dispatcher.UnaryEncoded(handler, context2, json, "", &out).ok());
  EXPECT_EQ(out, "{}");
  EXPECT_EQ(runs, 2);
}

TEST(DispatcherTest, UnaryEncodedWithProto) {
  Dispatcher dispatcher;
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  ProtoCodec proto;
  EchoRequest request;
  request.set_text("bin");
  request.set_delay_ms(8);
  Context context;
  std::string out;
  ASSERT_TRUE(
      dispatcher.UnaryEncoded(handler, context, proto, request.SerializeAsString(), &out)
          .ok());
  EchoResponse response;
  ASSERT_TRUE(response.ParseFromString(out));
  EXPECT_EQ(response.text(), "bin");
  EXPECT_EQ(response.index(), 8);
}

TEST(DispatcherTest, UnaryEncodedMalformedInputIsInvalidArgumentAndSkipsTheHandler) {
  Dispatcher dispatcher;
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  JsonCodec json;
  ProtoCodec proto;
  std::string out = "untouched";
  Context c1;
  absl::Status s = dispatcher.UnaryEncoded(handler, c1, json, R"({"text":)", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  Context c2;
  s = dispatcher.UnaryEncoded(handler, c2, json, R"({"delayMs":"x"})", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("delay"));
  Context c3;
  s = dispatcher.UnaryEncoded(handler, c3, proto, std::string("\x0a\x09x", 3), &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runs, 0);
}

TEST(DispatcherTest, UnaryEncodedRunsTheChainBeforeDecoding) {
  // An unauthenticated caller's bytes are never parsed: the chain answers first,
  // and interceptors see decode failures of admitted callers as the call's end.
  Dispatcher dispatcher;
  std::vector<std::string> log;
  dispatcher.AddInterceptor(std::make_shared<Recorder>(
      "auth", &log, absl::UnauthenticatedError("missing credentials")));
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  JsonCodec json;
  std::string out;
  Context rejected;
  EXPECT_EQ(dispatcher.UnaryEncoded(handler, rejected, json, R"({"text":)", &out).code(),
            absl::StatusCode::kUnauthenticated);

  Dispatcher open;
  std::vector<std::string> open_log;
  open.AddInterceptor(std::make_shared<Recorder>("metrics", &open_log));
  Context admitted;
  EXPECT_EQ(open.UnaryEncoded(handler, admitted, json, R"({"text":)", &out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(open_log, ::testing::ElementsAre("metrics.start Echo",
                                               "metrics.end INVALID_ARGUMENT"));
  EXPECT_EQ(runs, 0);
}

TEST(DispatcherTest, UnaryEncodedHandlerErrorProducesNoBody) {
  Dispatcher dispatcher;
  int runs = 0;
  MethodHandler handler = EchoHandler(&runs);
  JsonCodec json;
  Context context;
  std::string out;
  EXPECT_EQ(dispatcher.UnaryEncoded(handler, context, json, R"({"text":"fail"})", &out).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(runs, 1);
}

TEST(HandlerRegistryTest, RegisterFindAndDuplicates) {
  HandlerRegistry registry;
  int runs = 0;
  ASSERT_TRUE(registry.Register(EchoHandler(&runs)).ok());
  absl::Status dup = registry.Register(EchoHandler(&runs));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(dup.message()), HasSubstr("kei.test.v1.EchoService/Echo"));

  const MethodHandler* a = registry.Find("kei.test.v1.EchoService/Echo");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(registry.Find("/kei.test.v1.EchoService/Echo"), a);
  EXPECT_EQ(registry.Find("kei.test.v1.EchoService.Echo"), a);
  EXPECT_EQ(a->info.full_name, "kei.test.v1.EchoService/Echo");

  EXPECT_EQ(registry.Find("kei.test.v1.EchoService/Chat"), nullptr);
  EXPECT_EQ(registry.Find("kei.test.v1.EchoService/echo"), nullptr);
  EXPECT_EQ(registry.Find(""), nullptr);
  EXPECT_EQ(registry.Find("/"), nullptr);
  EXPECT_EQ(registry.Find("Echo"), nullptr);
}

TEST(HandlerRegistryTest, NamesAndHandlersAreSorted) {
  HandlerRegistry registry;
  for (const char* name : {"Chat", "Echo", "Collect", "Expand"}) {
    MethodHandler h;
    h.info = MethodInfo::FromDescriptor(EchoMethod(name));
    ASSERT_TRUE(registry.Register(std::move(h)).ok());
  }
  EXPECT_THAT(registry.MethodNames(),
              ElementsAre("kei.test.v1.EchoService/Chat", "kei.test.v1.EchoService/Collect",
                          "kei.test.v1.EchoService/Echo", "kei.test.v1.EchoService/Expand"));
  auto handlers = registry.Handlers();
  ASSERT_EQ(handlers.size(), 4u);
  EXPECT_EQ(handlers[0]->info.method_name, "Chat");
  EXPECT_EQ(handlers[3]->info.method_name, "Expand");
  // Pointers stay valid as more handlers are added (node-based storage).
  const MethodHandler* chat = registry.Find("kei.test.v1.EchoService/Chat");
  for (int i = 0; i < 50; ++i) {
    MethodHandler h;
    h.info.full_name = absl::StrCat("x.S/M", i);
    ASSERT_TRUE(registry.Register(std::move(h)).ok());
  }
  EXPECT_EQ(registry.Find("kei.test.v1.EchoService/Chat"), chat);
}

TEST(HandlerRegistryTest, DispatcherOwnsARegistry) {
  Dispatcher dispatcher;
  int runs = 0;
  ASSERT_TRUE(dispatcher.registry().Register(EchoHandler(&runs)).ok());
  const Dispatcher& view = dispatcher;
  const MethodHandler* h = view.registry().Find("kei.test.v1.EchoService.Echo");
  ASSERT_NE(h, nullptr);
  Context context;
  EchoRequest request;
  request.set_text("via registry");
  EchoResponse response;
  ASSERT_TRUE(view.Unary(*h, context, request, &response).ok());
  EXPECT_EQ(response.text(), "via registry");
}

}  // namespace
}  // namespace kei
