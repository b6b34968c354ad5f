// The limits and metrics interceptors: concurrency bound with retry pushback,
// counters released on every path, the server deadline policy, and per-method
// counts by code.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/dispatch/limits_interceptor.h"
#include "cc/dispatch/metrics_interceptor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.pb.h"

namespace kei {
namespace {

using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;

MethodInfo EchoInfo(const char* name = "Echo") {
  return MethodInfo::FromDescriptor(EchoRequest::descriptor()
                                        ->file()
                                        ->FindServiceByName("EchoService")
                                        ->FindMethodByName(name));
}

class FailStart final : public Interceptor {
 public:
  absl::Status OnCallStart(const MethodInfo&, Context&) override {
    return absl::UnauthenticatedError("no credentials");
  }
};

TEST(LimitsInterceptorTest, RejectsBeyondTheLimitWithPushback) {
  CallLimits limits;
  limits.max_concurrent_calls = 2;
  limits.overload_pushback = absl::Milliseconds(250);
  LimitsInterceptor interceptor(limits);
  MethodInfo info = EchoInfo();
  Context c1, c2, c3;
  ASSERT_TRUE(interceptor.OnCallStart(info, c1).ok());
  ASSERT_TRUE(interceptor.OnCallStart(info, c2).ok());
  EXPECT_EQ(interceptor.in_flight(), 2);
  EXPECT_TRUE(c1.response_metadata().empty());

  absl::Status s = interceptor.OnCallStart(info, c3);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("2 concurrent calls"));
  EXPECT_EQ(FirstValue(c3.response_metadata(), "grpc-retry-pushback-ms"), "250");
  EXPECT_EQ(c3.response_metadata().size(), 1u);
  // The rejected call does not hold a slot.
  EXPECT_EQ(interceptor.in_flight(), 2);

  interceptor.OnCallEnd(info, c1, absl::OkStatus());
  EXPECT_EQ(interceptor.in_flight(), 1);
  Context c4;
  EXPECT_TRUE(interceptor.OnCallStart(info, c4).ok());
  EXPECT_TRUE(c4.response_metadata().empty());
}

TEST(LimitsInterceptorTest, DefaultPushbackIs50ms) {
  CallLimits limits;
  limits.max_concurrent_calls = 1;
  EXPECT_STREQ(kRetryPushbackKey, "grpc-retry-pushback-ms");
  LimitsInterceptor interceptor(limits);
  MethodInfo info = EchoInfo();
  Context c1, c2;
  ASSERT_TRUE(interceptor.OnCallStart(info, c1).ok());
  ASSERT_EQ(interceptor.OnCallStart(info, c2).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FirstValue(c2.response_metadata(), kRetryPushbackKey), "50");
}

TEST(LimitsInterceptorTest, ZeroMeansUnbounded) {
  LimitsInterceptor interceptor(CallLimits{});
  MethodInfo info = EchoInfo();
  std::vector<Context> contexts(200);
  for (auto& c : contexts) ASSERT_TRUE(interceptor.OnCallStart(info, c).ok());
  EXPECT_EQ(interceptor.in_flight(), 200);
  for (auto& c : contexts) interceptor.OnCallEnd(info, c, absl::OkStatus());
  EXPECT_EQ(interceptor.in_flight(), 0);
}

TEST(LimitsInterceptorTest, ThroughTheDispatcherNestedCallIsRejectedAndSlotsReleased) {
  CallLimits limits;
  limits.max_concurrent_calls = 1;
  auto interceptor = std::make_shared<LimitsInterceptor>(limits);
  Dispatcher dispatcher;
  dispatcher.AddInterceptor(interceptor);
  MethodHandler inner;
  inner.info = EchoInfo();
  int inner_runs = 0;
  inner.unary = [&](Context&, const google::protobuf::Message&, google::protobuf::Message*) {
    ++inner_runs;
    return absl::OkStatus();
  };
  absl::Status nested_status;
  std::string nested_pushback;
  MethodHandler outer;
  outer.info = EchoInfo();
  outer.unary = [&](Context&, const google::protobuf::Message&, google::protobuf::Message*) {
    EXPECT_EQ(interceptor->in_flight(), 1);
    Context nested;
    EchoResponse r;
    nested_status = dispatcher.Unary(inner, nested, EchoRequest(), &r);
    if (auto v = FirstValue(nested.response_metadata(), kRetryPushbackKey)) {
      nested_pushback = std::string(*v);
    }
    return absl::OkStatus();
  };
  Context context;
  EchoResponse response;
  ASSERT_TRUE(dispatcher.Unary(outer, context, EchoRequest(), &response).ok());
  EXPECT_EQ(nested_status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(nested_pushback, "50");
  EXPECT_EQ(inner_runs, 0);
  EXPECT_EQ(interceptor->in_flight(), 0);

  // With the slot free again, the same call goes through.
  Context again;
  ASSERT_TRUE(dispatcher.Unary(inner, again, EchoRequest(), &response).ok());
  EXPECT_EQ(inner_runs, 1);
  EXPECT_EQ(interceptor->in_flight(), 0);
}

TEST(LimitsInterceptorTest, SlotReleasedWhenALaterInterceptorOrTheDeadlineFails) {
  CallLimits limits;
  limits.max_concurrent_calls = 1;
  auto limiter = std::make_shared<LimitsInterceptor>(limits);
  MethodHandler handler;
  handler.info = EchoInfo();
  handler.unary = [](Context&, const google::protobuf::Message&, google::protobuf::Message*) {
    return absl::InternalError("boom");
  };
  EchoResponse response;
  {
    Dispatcher dispatcher;
    dispatcher.AddInterceptor(limiter);
    dispatcher.AddInterceptor(std::make_shared<FailStart>());
    Context context;
    EXPECT_EQ(dispatcher.Unary(handler, context, EchoRequest(), &response).code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(limiter->in_flight(), 0);
  }
  {
    Dispatcher dispatcher;
    dispatcher.AddInterceptor(limiter);
    Context context;
    context.set_deadline(absl::Now() - absl::Seconds(1));
    EXPECT_EQ(dispatcher.Unary(handler, context, EchoRequest(), &response).code(),
              absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(limiter->in_flight(), 0);
    Context ok;
    EXPECT_EQ(dispatcher.Unary(handler, ok, EchoRequest(), &response).code(),
              absl::StatusCode::kInternal);
    EXPECT_EQ(limiter->in_flight(), 0);
  }
}

TEST(LimitsInterceptorTest, DefaultDeadlineAppliesOnlyToCallsWithout) {
  CallLimits limits;
  limits.default_deadline = absl::Seconds(5);
  LimitsInterceptor interceptor(limits);
  MethodInfo info = EchoInfo();

  Context none;
  absl::Time before = absl::Now();
  ASSERT_TRUE(interceptor.OnCallStart(info, none).ok());
  absl::Time after = absl::Now();
  EXPECT_GE(none.deadline(), before + absl::Seconds(5));
  EXPECT_LE(none.deadline(), after + absl::Seconds(5));

  Context own;
  absl::Time mine = absl::Now() + absl::Seconds(60);
  own.set_deadline(mine);
  ASSERT_TRUE(interceptor.OnCallStart(info, own).ok());
  EXPECT_EQ(own.deadline(), mine);  // longer than the default, but no ceiling

  Context shorter;
  absl::Time soon = absl::Now() + absl::Milliseconds(100);
  shorter.set_deadline(soon);
  ASSERT_TRUE(interceptor.OnCallStart(info, shorter).ok());
  EXPECT_EQ(shorter.deadline(), soon);
}

TEST(LimitsInterceptorTest, MaxDeadlineCutsLongerDeadlines) {
  CallLimits limits;
  limits.max_deadline = absl::Seconds(2);
  LimitsInterceptor interceptor(limits);
  MethodInfo info = EchoInfo();

  Context none;
  absl::Time before = absl::Now();
  ASSERT_TRUE(interceptor.OnCallStart(info, none).ok());
  EXPECT_GE(none.deadline(), before + absl::Seconds(2));
  EXPECT_LE(none.deadline(), absl::Now() + absl::Seconds(2));

  Context longer;
  longer.set_deadline(absl::Now() + absl::Hours(1));
  ASSERT_TRUE(interceptor.OnCallStart(info, longer).ok());
  EXPECT_LE(longer.deadline(), absl::Now() + absl::Seconds(2));

  Context shorter;
  absl::Time soon = absl::Now() + absl::Milliseconds(300);
  shorter.set_deadline(soon);
  ASSERT_TRUE(interceptor.OnCallStart(info, shorter).ok());
  EXPECT_EQ(shorter.deadline(), soon);
}

TEST(LimitsInterceptorTest, DefaultAndMaxTogether) {
  CallLimits limits;
  limits.default_deadline = absl::Seconds(10);
  limits.max_deadline = absl::Seconds(3);
  LimitsInterceptor interceptor(limits);
  Context none;
  ASSERT_TRUE(interceptor.OnCallStart(EchoInfo(), none).ok());
  EXPECT_LE(none.deadline(), absl::Now() + absl::Seconds(3));
  EXPECT_GT(none.deadline(), absl::Now() + absl::Seconds(2));
}

TEST(LimitsInterceptorTest, NoDeadlinePolicyLeavesCallsUnbounded) {
  LimitsInterceptor interceptor(CallLimits{});
  Context none;
  ASSERT_TRUE(interceptor.OnCallStart(EchoInfo(), none).ok());
  EXPECT_FALSE(none.has_deadline());
}

TEST(MetricsInterceptorTest, CountsCallsByMethodAndCode) {
  int observed = 0;
  absl::Duration last_latency = absl::ZeroDuration();
  auto metrics = std::make_shared<MetricsInterceptor>(
      [&](const MethodInfo& method, const Context&, const absl::Status& status,
          absl::Duration latency) {
        ++observed;
        last_latency = latency;
        EXPECT_EQ(method.method_name, "Echo");
        (void)status;
      });
  Dispatcher dispatcher;
  dispatcher.AddInterceptor(metrics);
  MethodHandler handler;
  handler.info = EchoInfo();
  handler.unary = [](Context&, const google::protobuf::Message& request,
                     google::protobuf::Message*) {
    const auto& r = static_cast<const EchoRequest&>(request);
    if (r.delay_ms() > 0) absl::SleepFor(absl::Milliseconds(r.delay_ms()));
    if (r.text() == "bad") return absl::InvalidArgumentError("bad");
    return absl::OkStatus();
  };
  EchoResponse response;
  for (const char* text : {"a", "b", "bad"}) {
    Context context;
    EchoRequest request;
    request.set_text(text);
    dispatcher.Unary(handler, context, request, &response).IgnoreError();
  }
  Context slow;
  EchoRequest slow_request;
  slow_request.set_delay_ms(15);
  ASSERT_TRUE(dispatcher.Unary(handler, slow, slow_request, &response).ok());
  EXPECT_GE(last_latency, absl::Milliseconds(15));

  auto snapshot = metrics->Snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  const MethodMetrics& m = snapshot.at("kei.test.v1.EchoService/Echo");
  EXPECT_EQ(m.calls, 4u);
  EXPECT_EQ(m.by_code.at("OK"), 3u);
  EXPECT_EQ(m.by_code.at("INVALID_ARGUMENT"), 1u);
  EXPECT_EQ(m.by_code.size(), 2u);
  EXPECT_GE(m.max_latency, absl::Milliseconds(15));
  EXPECT_GE(m.total_latency, m.max_latency);
  EXPECT_EQ(observed, 4);
}

TEST(MetricsInterceptorTest, CountsCallsRejectedLaterInTheChain) {
  auto metrics = std::make_shared<MetricsInterceptor>();
  Dispatcher dispatcher;
  dispatcher.AddInterceptor(metrics);
  dispatcher.AddInterceptor(std::make_shared<FailStart>());
  MethodHandler handler;
  handler.info = EchoInfo("Echo");
  handler.unary = [](Context&, const google::protobuf::Message&, google::protobuf::Message*) {
    return absl::OkStatus();
  };
  Context c1;
  EchoResponse response;
  EXPECT_EQ(dispatcher.Unary(handler, c1, EchoRequest(), &response).code(),
            absl::StatusCode::kUnauthenticated);
  auto snapshot = metrics->Snapshot();
  EXPECT_EQ(snapshot.at("kei.test.v1.EchoService/Echo").calls, 1u);
  EXPECT_EQ(snapshot.at("kei.test.v1.EchoService/Echo").by_code.at("UNAUTHENTICATED"), 1u);
  EXPECT_EQ(snapshot.count("kei.test.v1.EchoService/Chat"), 0u);

  // A snapshot is a copy: later calls don't change it.
  Context c2;
  dispatcher.Unary(handler, c2, EchoRequest(), &response).IgnoreError();
  EXPECT_EQ(snapshot.at("kei.test.v1.EchoService/Echo").calls, 1u);
  EXPECT_EQ(metrics->Snapshot().at("kei.test.v1.EchoService/Echo").calls, 2u);
}

}  // namespace
}  // namespace kei
