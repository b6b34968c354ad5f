// The per-call cost every adapter pays: a unary call through the kit's
// Dispatcher (the same interceptor chain kei::Server installs: metrics, auth,
// limits) with JSON and proto binary codecs, against calling the handler
// directly. No network.
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/server/server.h"
#include "kei/agent/v1/agent.kei.h"
#include "tools/keid/agent/agent_service.h"

namespace {

using kei::agent::v1::ExplainRequest;
using kei::agent::v1::ExplainResponse;

struct Fixture {
  Fixture() : server(kei::ServerOptions{}) {
    agent = std::make_shared<kei::agent::AgentService>();
    (void)server.AddService(kei::agent::v1::BindAgentService(agent));
    method = server.dispatcher().registry().Find("kei.agent.v1.AgentService/Explain");
    kei::agent::v1::PlanRequest plan_request;
    plan_request.set_objective("echo hello then count words in a b c then add 1 2 3");
    kei::agent::v1::PlanResponse plan;
    kei::Context context;
    (void)agent->Plan(context, plan_request, &plan);
    request.set_plan_id(plan.plan_id());
    (void)kei::JsonCodec().Marshal(request, &request_json);
    (void)kei::ProtoCodec().Marshal(request, &request_proto);
  }
  kei::Server server;
  std::shared_ptr<kei::agent::AgentService> agent;
  const kei::MethodHandler* method;
  ExplainRequest request;
  std::string request_json, request_proto;
};

Fixture& F() {
  static Fixture* fixture = new Fixture();
  return *fixture;
}

void BM_DirectHandlerCall(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    kei::Context context;
    ExplainResponse response;
    benchmark::DoNotOptimize(f.agent->Explain(context, f.request, &response));
  }
}
BENCHMARK(BM_DirectHandlerCall);

void BM_DispatchTyped(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    kei::Context context;
    ExplainResponse response;
    benchmark::DoNotOptimize(f.server.dispatcher().Unary(*f.method, context, f.request, &response));
  }
}
BENCHMARK(BM_DispatchTyped);

void BM_DispatchProtoCodec(benchmark::State& state) {
  Fixture& f = F();
  kei::ProtoCodec codec;
  std::string out;
  for (auto _ : state) {
    kei::Context context;
    benchmark::DoNotOptimize(
        f.server.dispatcher().UnaryEncoded(*f.method, context, codec, f.request_proto, &out));
  }
}
BENCHMARK(BM_DispatchProtoCodec);

void BM_DispatchJsonCodec(benchmark::State& state) {
  Fixture& f = F();
  kei::JsonCodec codec;
  std::string out;
  for (auto _ : state) {
    kei::Context context;
    benchmark::DoNotOptimize(
        f.server.dispatcher().UnaryEncoded(*f.method, context, codec, f.request_json, &out));
  }
}
BENCHMARK(BM_DispatchJsonCodec);

}  // namespace

BENCHMARK_MAIN();
