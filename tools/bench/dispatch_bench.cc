// The per-call cost every adapter pays: a unary call through the kit's
// Dispatcher (the same interceptor chain kei::Server installs: metrics, auth,
// limits) with typed messages, proto binary and JSON codecs, against calling
// the handler directly. The handler is a trivial echo, so what is measured is
// the kit, not the service. No network.
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_codec.h"
#include "cc/server/server.h"
#include "kei/test/v1/echo.kei.h"

namespace {

using kei::test::v1::EchoRequest;
using kei::test::v1::EchoResponse;

class TrivialEcho final : public kei::test::v1::EchoServiceHandler {
 public:
  absl::Status Echo(kei::Context&, const EchoRequest& request,
                    EchoResponse* response) override {
    response->set_text(request.text());
    return absl::OkStatus();
  }
};

struct Fixture {
  Fixture() : server(kei::ServerOptions{}) {
    echo = std::make_shared<TrivialEcho>();
    (void)server.AddService(kei::test::v1::BindEchoService(echo));
    method = server.dispatcher().registry().Find("kei.test.v1.EchoService/Echo");
    request.set_text("a payload of about thirty bytes");
    (void)kei::JsonCodec().Marshal(request, &request_json);
    (void)kei::ProtoCodec().Marshal(request, &request_proto);
  }
  kei::Server server;
  std::shared_ptr<TrivialEcho> echo;
  const kei::MethodHandler* method;
  EchoRequest request;
  std::string request_json, request_proto;
};

Fixture& F() {
  static Fixture* fixture = new Fixture();
  return *fixture;
}

// Baseline: parse, call the implementation, serialize (the note's "direct call").
void BM_DirectCallWithProtoParseAndSerialize(benchmark::State& state) {
  Fixture& f = F();
  std::string out;
  for (auto _ : state) {
    kei::Context context;
    EchoRequest request;
    request.ParseFromString(f.request_proto);
    EchoResponse response;
    benchmark::DoNotOptimize(f.echo->Echo(context, request, &response));
    response.SerializeToString(&out);
  }
}
BENCHMARK(BM_DirectCallWithProtoParseAndSerialize);

void BM_DispatchTyped(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    kei::Context context;
    EchoResponse response;
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
