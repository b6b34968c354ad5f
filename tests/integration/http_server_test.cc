// keid's HTTP listener on loopback, spoken to with a plain HTTP/1.1 client:
// the Connect protocol (unary JSON/proto, GET, streaming envelopes, errors with
// the mapping table's statuses, timeouts), REST routes from the annotations
// (path/query/body binding, SSE and NDJSON streams), health endpoints, auth,
// limits, malformed input and keep-alive.
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "cc/http/connect_wire.h"
#include "cc/status/code_names.h"
#include "cc/status/http_mapping.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/raw_http_client.h"

namespace kei::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;

const Headers kJson = {{"Content-Type", "application/json"}};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.http_address = "127.0.0.1:0";
    auto started = StartTestServer(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    port_ = server_.server->http_port();
    ASSERT_GT(port_, 0);
  }
  RawResponse Call(const std::string& method, const std::string& target,
                   const Headers& headers = kJson, const std::string& body = "") {
    auto response = HttpCall(port_, method, target, headers, body);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : RawResponse{};
  }
  static json Json(const RawResponse& r) { return json::parse(r.body, nullptr, false); }

  TestServer server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, ConnectUnaryJsonAndProto) {
  Start();
  auto plan = Call("POST", "/kei.agent.v1.AgentService/Plan",
                   {{"Content-Type", "application/json"}, {"Connect-Protocol-Version", "1"}},
                   R"({"objective":"echo hi then count words in a b"})");
  EXPECT_EQ(plan.status, 200) << plan.body;
  EXPECT_EQ(plan.header("content-type"), "application/json");
  EXPECT_EQ(Json(plan)["steps"].size(), 2u) << plan.body;

  agent::v1::PlanRequest request;
  request.set_objective("shout hey");
  auto binary = Call("POST", "/kei.agent.v1.AgentService/Plan",
                     {{"Content-Type", "application/proto"}}, request.SerializeAsString());
  EXPECT_EQ(binary.status, 200);
  EXPECT_EQ(binary.header("content-type"), "application/proto");
  agent::v1::PlanResponse response;
  ASSERT_TRUE(response.ParseFromString(binary.body));
  EXPECT_EQ(response.steps(0).action(), "uppercase");
}

TEST_F(HttpServerTest, EveryCodeGetsItsHttpStatusAndConnectBody) {
  Start();
  for (int code = 1; code <= 16; ++code) {
    auto r = Call("POST", "/kei.test.v1.EchoService/Echo", kJson,
                  absl::StrCat(R"({"text":"code:)", code, R"("})"));
    auto canonical = static_cast<absl::StatusCode>(code);
    EXPECT_EQ(r.status, HttpStatusFromCode(canonical)) << CodeName(canonical);
    EXPECT_EQ(r.header("content-type"), "application/json");
    json body = Json(r);
    EXPECT_EQ(body["code"], std::string(ConnectCodeName(canonical))) << r.body;
    EXPECT_EQ(body["message"], "injected");
  }
}

TEST_F(HttpServerTest, BadRequestsGetClearErrors) {
  Start();
  auto unsupported = Call("POST", "/kei.agent.v1.AgentService/Plan",
                          {{"Content-Type", "text/plain"}}, "objective");
  EXPECT_EQ(unsupported.status, 415);
  EXPECT_FALSE(unsupported.header("accept-post").empty());

  auto malformed = Call("POST", "/kei.agent.v1.AgentService/Plan", kJson, R"({"objective":)");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Json(malformed)["code"], "invalid_argument");

  auto wrong_type = Call("POST", "/kei.agent.v1.AgentService/Plan", kJson, R"({"maxSteps":"many"})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_TRUE(absl::StrContains(wrong_type.body, "max")) << wrong_type.body;

  auto invalid = Call("POST", "/kei.agent.v1.AgentService/Plan", kJson, R"({"objective":""})");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_TRUE(absl::StrContains(invalid.body, "objective")) << invalid.body;

  auto version = Call("POST", "/kei.agent.v1.AgentService/Plan",
                      {{"Content-Type", "application/json"}, {"Connect-Protocol-Version", "2"}}, "{}");
  EXPECT_EQ(version.status, 400);

  auto compressed = Call("POST", "/kei.agent.v1.AgentService/Plan",
                         {{"Content-Type", "application/json"}, {"Content-Encoding", "br"}}, "{}");
  EXPECT_EQ(compressed.status, 501);

  auto bad_timeout = Call("POST", "/kei.agent.v1.AgentService/Plan",
                          {{"Content-Type", "application/json"}, {"Connect-Timeout-Ms", "soon"}}, "{}");
  EXPECT_EQ(bad_timeout.status, 400);

  auto unknown = Call("POST", "/kei.agent.v1.AgentService/Fly", kJson, "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Json(unknown)["code"], "unimplemented");

  auto nowhere = Call("GET", "/no/such/page", {});
  EXPECT_EQ(nowhere.status, 404);
  EXPECT_EQ(Json(nowhere)["code"], "not_found");

  auto put = Call("PUT", "/kei.agent.v1.AgentService/Plan", kJson, "{}");
  EXPECT_EQ(put.status, 405);

  // The server is still serving after all that.
  EXPECT_EQ(Call("GET", "/healthz", {}).status, 200);
}

TEST_F(HttpServerTest, ConnectTimeoutBecomesTheDeadline) {
  Start();
  absl::Time start = absl::Now();
  auto r = Call("POST", "/kei.test.v1.EchoService/Echo",
                {{"Content-Type", "application/json"}, {"Connect-Timeout-Ms", "100"}},
                R"({"text":"slow","delayMs":5000})");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(Json(r)["code"], "deadline_exceeded");
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(HttpServerTest, GetForSideEffectFreeMethodsOnly) {
  Start();
  auto get = Call("GET",
                  "/kei.test.v1.EchoService/Echo?connect=v1&encoding=json&message=%7B%22text%22%3A%22hi%22%7D",
                  {});
  EXPECT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(Json(get)["text"], "hi");

  test::v1::EchoRequest request;
  request.set_text("b64");
  std::string encoded;
  absl::WebSafeBase64Escape(request.SerializeAsString(), &encoded);
  auto base64 = Call("GET", absl::StrCat("/kei.test.v1.EchoService/Echo?encoding=proto&base64=1&message=", encoded), {});
  EXPECT_EQ(base64.status, 200);
  test::v1::EchoResponse response;
  ASSERT_TRUE(response.ParseFromString(base64.body));
  EXPECT_EQ(response.text(), "b64");

  auto side_effects = Call("GET", "/kei.agent.v1.AgentService/Act?encoding=json&message=%7B%7D", {});
  EXPECT_EQ(side_effects.status, 405);
  EXPECT_EQ(side_effects.header("allow"), "POST");
}

TEST_F(HttpServerTest, ConnectServerStreamingWithEndOfStream) {
  Start();
  std::string body;
  connect::AppendEnvelope(0, R"({"text":"x","count":3})", &body);
  auto r = Call("POST", "/kei.test.v1.EchoService/Expand",
                {{"Content-Type", "application/connect+json"}}, body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/connect+json");
  connect::EnvelopeReader reader(r.body, 1 << 20);
  connect::EnvelopeReader::Envelope envelope;
  int messages = 0;
  bool ended = false;
  while (reader.Next(&envelope)) {
    if (envelope.flags & connect::kFlagEndStream) {
      ended = true;
      EXPECT_TRUE(connect::ParseEndStream(envelope.payload, nullptr).ok()) << envelope.payload;
    } else {
      EXPECT_EQ(json::parse(std::string(envelope.payload)).value("index", 0), messages)
          << envelope.payload;
      ++messages;
    }
  }
  EXPECT_TRUE(reader.status().ok());
  EXPECT_EQ(messages, 3);
  EXPECT_TRUE(ended);

  // Errors in streams travel in the end-of-stream message with HTTP 200.
  std::string two;
  connect::AppendEnvelope(0, "{}", &two);
  connect::AppendEnvelope(0, "{}", &two);
  auto bad = Call("POST", "/kei.test.v1.EchoService/Expand",
                  {{"Content-Type", "application/connect+json"}}, two);
  EXPECT_EQ(bad.status, 200);
  connect::EnvelopeReader bad_reader(bad.body, 1 << 20);
  ASSERT_TRUE(bad_reader.Next(&envelope));
  EXPECT_TRUE(envelope.flags & connect::kFlagEndStream);
  EXPECT_EQ(connect::ParseEndStream(envelope.payload, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpServerTest, RestRoutesBindPathQueryAndBody) {
  Start();
  auto plan = Call("POST", "/api/v1/rpc/plan", kJson, R"({"objective":"echo rest"})");
  EXPECT_EQ(plan.status, 200) << plan.body;
  std::string plan_id = Json(plan)["planId"];
  auto explain = Call("POST", "/api/v1/rpc/explain", kJson,
                      json{{"planId", plan_id}}.dump());
  EXPECT_EQ(explain.status, 200) << explain.body;
  auto act = Call("POST", "/api/v1/rpc/act", kJson, R"({"action":"add","params":{"values":[2,3]}})");
  EXPECT_EQ(Json(act)["output"], 5);
  auto observe = Call("POST", "/api/v1/rpc/observe", kJson, R"({"source":"rest","content":"x"})");
  EXPECT_EQ(observe.status, 200);

  auto echo = Call("GET", "/v1/echo/hello%20world", {});
  EXPECT_EQ(echo.status, 200) << echo.body;
  EXPECT_EQ(Json(echo)["text"], "hello world");

  auto wrong_verb = Call("GET", "/api/v1/rpc/plan", {});
  EXPECT_EQ(wrong_verb.status, 405);

  auto bad_query = Call("GET", "/api/v1/events?maxEvents=lots", {});
  EXPECT_EQ(bad_query.status, 400) << bad_query.body;
}

TEST_F(HttpServerTest, RestServerStreamingAsSseAndNdjson) {
  Start();
  for (int i = 0; i < 3; ++i) {
    Call("POST", "/api/v1/rpc/observe", kJson, absl::StrCat(R"({"source":"s","content":"c)", i, "\"}"));
  }
  auto sse = Call("GET", "/api/v1/events?fromSequence=1&maxEvents=3", {{"Accept", "text/event-stream"}});
  EXPECT_EQ(sse.status, 200);
  EXPECT_EQ(sse.header("content-type"), "text/event-stream");
  int events = 0;
  for (size_t pos = 0; (pos = sse.body.find("data: ", pos)) != std::string::npos; ++pos) ++events;
  EXPECT_EQ(events, 3) << sse.body;

  auto ndjson = Call("GET", "/api/v1/events?fromSequence=2&maxEvents=2", {});
  EXPECT_EQ(ndjson.header("content-type"), "application/x-ndjson");
  std::vector<json> lines;
  for (absl::string_view line : absl::StrSplit(ndjson.body, '\n', absl::SkipEmpty())) {
    lines.push_back(json::parse(line));
  }
  ASSERT_EQ(lines.size(), 2u) << ndjson.body;
  EXPECT_EQ(lines[0]["sequence"], "2");

  auto expand = Call("GET", "/v1/expand/hey?count=2", {});
  EXPECT_EQ(expand.status, 200) << expand.body;
  EXPECT_EQ(std::count(expand.body.begin(), expand.body.end(), '\n'), 2);
}

TEST_F(HttpServerTest, AuthAppliesToHttpThroughTheSameInterceptor) {
  ServerOptions options;
  options.auth.bearer_tokens["t0k"] = "http-user";
  Start(options);
  auto anonymous = Call("POST", "/kei.test.v1.EchoService/Echo", kJson, R"({"text":"whoami"})");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(Json(anonymous)["code"], "unauthenticated");
  auto wrong = Call("POST", "/kei.test.v1.EchoService/Echo",
                    {{"Content-Type", "application/json"}, {"Authorization", "Bearer nope"}},
                    R"({"text":"whoami"})");
  EXPECT_EQ(wrong.status, 401);
  auto ok = Call("POST", "/kei.test.v1.EchoService/Echo",
                 {{"Content-Type", "application/json"}, {"Authorization", "Bearer t0k"}},
                 R"({"text":"whoami"})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(Json(ok)["text"], "bearer:http-user");
  auto protocol = Call("POST", "/kei.test.v1.EchoService/Echo",
                       {{"Content-Type", "application/json"}, {"Authorization", "Bearer t0k"}},
                       R"({"text":"protocol"})");
  EXPECT_EQ(Json(protocol)["text"], "http");
  // An unauthenticated caller's malformed body is refused before it is parsed.
  auto unparsed = Call("POST", "/kei.test.v1.EchoService/Echo", kJson, R"({"text":)");
  EXPECT_EQ(unparsed.status, 401);
  // Health stays public.
  EXPECT_EQ(Call("GET", "/readyz", {}).status, 200);
}

TEST_F(HttpServerTest, LimitsAndMalformedHttp) {
  ServerOptions options;
  options.max_message_bytes = 64 * 1024;
  options.http.max_header_bytes = 4096;
  Start(options);
  auto big = Call("POST", "/kei.test.v1.EchoService/Echo", kJson, std::string(100 * 1024, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Json(big)["code"], "resource_exhausted");

  auto huge_header = Call("GET", "/healthz", {{"X-Filler", std::string(8000, 'a')}});
  EXPECT_EQ(huge_header.status, 431);

  auto connection = RawHttpConnection::Connect("127.0.0.1", port_);
  ASSERT_TRUE(connection.ok());
  auto garbage = (*connection)->SendRaw("NOT HTTP AT ALL\r\n\r\n");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_EQ(garbage->status, 400);

  EXPECT_EQ(Call("GET", "/healthz", {}).status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start();
  auto connection = RawHttpConnection::Connect("127.0.0.1", port_);
  ASSERT_TRUE(connection.ok());
  for (int i = 0; i < 5; ++i) {
    auto r = (*connection)->Send("POST", "/kei.test.v1.EchoService/Echo", kJson,
                                 absl::StrCat(R"({"text":")", i, "\"}"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->keep_alive);
  }
  auto close = (*connection)->Send("GET", "/healthz", {{"Connection", "close"}}, "");
  ASSERT_TRUE(close.ok());
  EXPECT_TRUE((*connection)->PeerClosed());
}

TEST_F(HttpServerTest, IdleConnectionsTimeOutAndConnectionsAreBounded) {
  ServerOptions options;
  options.http.read_timeout = absl::Milliseconds(300);
  options.http.max_connections = 2;
  Start(options);
  auto idle = RawHttpConnection::Connect("127.0.0.1", port_);
  ASSERT_TRUE(idle.ok());
  auto second = RawHttpConnection::Connect("127.0.0.1", port_);
  ASSERT_TRUE(second.ok());
  absl::SleepFor(absl::Milliseconds(50));
  // A third connection beyond the bound is told so and closed.
  auto third = HttpCall(port_, "GET", "/healthz");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->status, 503);
  // A connection that sends nothing is closed once the read timeout passes...
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE((*idle)->PeerClosed());
  EXPECT_TRUE((*second)->PeerClosed());
  // ...which frees its slot.
  EXPECT_EQ(Call("GET", "/healthz", {}).status, 200);
}

TEST_F(HttpServerTest, HealthAndReadiness) {
  Start();
  EXPECT_EQ(Call("GET", "/healthz", {}).body, R"({"status":"ok"})");
  auto ready = Call("GET", "/readyz", {});
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(Json(ready)["status"], "SERVING");
}

}  // namespace
}  // namespace kei::testing
