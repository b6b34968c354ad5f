// Every KEI agent method over the gRPC transport against a real kei::Server on
// loopback: the four unary calls through KEIRPCClient, the Watch and Session
// streams through the generic ClientStream, JSON calls, reflection and health.
#include <thread>

#include "clients/grpc/health_client.h"
#include "clients/grpc/reflection_client.h"
#include "clients/kei_rpc_client.h"
#include "clients/protocol_client_factory.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/test_services.h"

namespace kei::testing {
namespace {

using agent::v1::ActRequest;
using agent::v1::AgentEvent;
using agent::v1::SessionRequest;
using agent::v1::SessionResponse;

class GrpcAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = StartTestServer();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    auto client = KEIRPCClient::Connect(server_.url());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  MethodInfo Method(const char* name) {
    return *DescriptorRegistry::Default().FindMethod(name);
  }

  TestServer server_;
  std::unique_ptr<KEIRPCClient> client_;
};

TEST_F(GrpcAgentTest, PlanThenExplain) {
  agent::v1::PlanRequest plan_request;
  plan_request.set_objective("echo hello then count words in a b c");
  auto plan = client_->Plan(plan_request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->plan_id().rfind("plan-", 0), 0u);
  ASSERT_EQ(plan->steps_size(), 2);
  EXPECT_EQ(plan->steps(0).action(), "echo");
  EXPECT_EQ(plan->steps(1).action(), "count_words");

  // Deterministic: the same objective is the same plan.
  auto again = client_->Plan(plan_request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->plan_id(), plan->plan_id());

  agent::v1::ExplainRequest explain_request;
  explain_request.set_plan_id(plan->plan_id());
  auto explanation = client_->Explain(explain_request);
  ASSERT_TRUE(explanation.ok()) << explanation.status();
  EXPECT_NE(explanation->explanation().find(plan->plan_id()), std::string::npos);
  EXPECT_EQ(explanation->step_explanations_size(), 2);
}

TEST_F(GrpcAgentTest, ActRunsActionsAndValidates) {
  ActRequest add;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"action":"add","params":{"values":[1,2,3.5]}})", &add)
                  .ok());
  auto result = client_->Act(add);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_DOUBLE_EQ(result->output().number_value(), 6.5);
  EXPECT_GT(result->event_sequence(), 0u);

  ActRequest unknown;
  unknown.set_action("launch_rockets");
  auto failed = client_->Act(unknown);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(failed.status().message().find("unknown action"), std::string::npos);

  ActRequest missing;
  missing.set_action("echo");
  auto invalid = client_->Act(missing);
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(invalid.status().message().find("params.text"), std::string::npos)
      << invalid.status();
}

TEST_F(GrpcAgentTest, ObserveAndExplainErrors) {
  agent::v1::ObserveRequest observe;
  observe.set_source("sensor-1");
  observe.set_content("door opened");
  auto recorded = client_->Observe(observe);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->observation_id(), absl::StrCat("obs-", recorded->sequence()));

  agent::v1::ObserveRequest empty;
  EXPECT_EQ(client_->Observe(empty).status().code(), absl::StatusCode::kInvalidArgument);

  agent::v1::ExplainRequest unknown;
  unknown.set_plan_id("plan-0000000000000000");
  EXPECT_EQ(client_->Explain(unknown).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GrpcAgentTest, WatchReplaysThenStreamsLiveEvents) {
  agent::v1::ObserveRequest observe;
  observe.set_source("test");
  observe.set_content("first");
  ASSERT_TRUE(client_->Observe(observe).ok());

  auto stream = client_->transport().OpenStream(Method("kei.agent.v1.AgentService/Watch"), {});
  ASSERT_TRUE(stream.ok()) << stream.status();
  agent::v1::WatchRequest watch;
  watch.set_from_sequence(1);
  watch.set_max_events(3);
  ASSERT_TRUE((*stream)->Write(watch));
  ASSERT_TRUE((*stream)->CloseSend());

  AgentEvent event;
  ASSERT_TRUE((*stream)->Read(&event));
  EXPECT_EQ(event.sequence(), 1u);
  EXPECT_EQ(event.kind(), agent::v1::EVENT_KIND_OBSERVATION_RECORDED);

  // Two more live events arrive while the stream is open.
  std::thread producer([this] {
    for (const char* content : {"second", "third"}) {
      agent::v1::ObserveRequest o;
      o.set_source("test");
      o.set_content(content);
      ASSERT_TRUE(client_->Observe(o).ok());
    }
  });
  ASSERT_TRUE((*stream)->Read(&event));
  EXPECT_EQ(event.sequence(), 2u);
  ASSERT_TRUE((*stream)->Read(&event));
  EXPECT_EQ(event.sequence(), 3u);
  EXPECT_EQ(event.summary().find("third") != std::string::npos ||
                event.attributes().size() > 0,
            true);
  EXPECT_FALSE((*stream)->Read(&event));
  EXPECT_TRUE((*stream)->Finish().ok());
  producer.join();
}

TEST_F(GrpcAgentTest, SessionAnswersEachRequestInOrder) {
  auto stream =
      client_->transport().OpenStream(Method("kei.agent.v1.AgentService/Session"), {});
  ASSERT_TRUE(stream.ok());
  SessionRequest plan;
  plan.set_request_id("r1");
  plan.mutable_plan()->set_objective("say hi");
  SessionRequest bad;
  bad.set_request_id("r2");
  bad.mutable_act()->set_action("nope");
  SessionRequest empty;
  empty.set_request_id("r3");
  for (const auto* r : {&plan, &bad, &empty}) ASSERT_TRUE((*stream)->Write(*r));
  ASSERT_TRUE((*stream)->CloseSend());

  SessionResponse response;
  ASSERT_TRUE((*stream)->Read(&response));
  EXPECT_EQ(response.request_id(), "r1");
  EXPECT_TRUE(response.has_plan());
  ASSERT_TRUE((*stream)->Read(&response));
  EXPECT_EQ(response.request_id(), "r2");
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error().code(), "INVALID_ARGUMENT");
  ASSERT_TRUE((*stream)->Read(&response));
  EXPECT_EQ(response.request_id(), "r3");
  EXPECT_TRUE(response.has_error());
  EXPECT_FALSE((*stream)->Read(&response));
  EXPECT_TRUE((*stream)->Finish().ok());
}

TEST_F(GrpcAgentTest, GenericJsonCallWorksForAnyRegisteredMethod) {
  auto json = client_->CallJson("kei.agent.v1.AgentService.Plan", R"({"objective":"shout hey"})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"uppercase\""), std::string::npos) << *json;

  auto bad_field = client_->CallJson("kei.agent.v1.AgentService/Plan", R"({"objective": 5})");
  EXPECT_EQ(bad_field.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_field.status().message().find("objective"), std::string::npos)
      << bad_field.status();

  auto unknown = client_->CallJson("kei.agent.v1.AgentService/Fly", "{}");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(GrpcAgentTest, ReflectionAndHealth) {
  auto transport = ProtocolClientFactory::Default().CreateTransport(server_.url(), {});
  ASSERT_TRUE(transport.ok());
  auto services = ReflectionClient(*transport).ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_NE(std::find(services->begin(), services->end(), "kei.agent.v1.AgentService"),
            services->end());

  // Descriptors fetched over reflection into a fresh registry resolve methods.
  DescriptorRegistry fresh;
  ASSERT_TRUE(ReflectionClient(*transport).LoadSymbol("kei.test.v1.EchoService", fresh).ok());
  EXPECT_TRUE(fresh.FindMethod("kei.test.v1.EchoService/Chat").ok());

  EXPECT_EQ(*CheckHealth(**transport, ""), "SERVING");
  EXPECT_EQ(*CheckHealth(**transport, "kei.agent.v1.AgentService"), "SERVING");
  EXPECT_EQ(CheckHealth(**transport, "no.Such").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GrpcAgentTest, EveryEchoStreamKind) {
  auto& transport = client_->transport();
  // Server streaming.
  auto expand = transport.OpenStream(Method("kei.test.v1.EchoService/Expand"), {});
  ASSERT_TRUE(expand.ok());
  test::v1::ExpandRequest request;
  request.set_text("x");
  request.set_count(5);
  (*expand)->Write(request);
  (*expand)->CloseSend();
  test::v1::EchoResponse response;
  int n = 0;
  while ((*expand)->Read(&response)) EXPECT_EQ(response.index(), n++);
  EXPECT_EQ(n, 5);
  EXPECT_TRUE((*expand)->Finish().ok());

  // Client streaming.
  auto collect = transport.OpenStream(Method("kei.test.v1.EchoService/Collect"), {});
  ASSERT_TRUE(collect.ok());
  for (const char* word : {"a", "b", "c"}) {
    test::v1::EchoRequest r;
    r.set_text(word);
    ASSERT_TRUE((*collect)->Write(r));
  }
  (*collect)->CloseSend();
  ASSERT_TRUE((*collect)->Read(&response));
  EXPECT_EQ(response.text(), "a b c");
  EXPECT_EQ(response.index(), 3);
  EXPECT_FALSE((*collect)->Read(&response));
  EXPECT_TRUE((*collect)->Finish().ok());

  // Bidi: interleaved.
  auto chat = transport.OpenStream(Method("kei.test.v1.EchoService/Chat"), {});
  ASSERT_TRUE(chat.ok());
  for (int i = 0; i < 3; ++i) {
    test::v1::EchoRequest r;
    r.set_text(absl::StrCat("m", i));
    ASSERT_TRUE((*chat)->Write(r));
    ASSERT_TRUE((*chat)->Read(&response));
    EXPECT_EQ(response.text(), absl::StrCat("m", i));
  }
  (*chat)->CloseSend();
  EXPECT_FALSE((*chat)->Read(&response));
  EXPECT_TRUE((*chat)->Finish().ok());
}

}  // namespace
}  // namespace kei::testing
