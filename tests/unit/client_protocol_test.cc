// Client-side protocol logic that needs no network: endpoint URLs, and the
// selector's ordering and fallback rules.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/call_options.h"
#include "clients/protocol.h"
#include "clients/protocol_selector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ProtocolNameTest, Names) {
  EXPECT_EQ(ProtocolName(Protocol::kGrpc), "grpc");
  EXPECT_EQ(ProtocolName(Protocol::kHttp), "http");
  EXPECT_EQ(ProtocolName(Protocol::kWebSocket), "ws");
  EXPECT_EQ(ProtocolName(Protocol::kMcp), "mcp");
  EXPECT_EQ(ProtocolName(Protocol::kBus), "bus");
  EXPECT_EQ(ProtocolName(Protocol::kUnified), "unified");
}

TEST(ParseEndpointTest, SchemesAndDefaultPorts) {
  struct Case {
    const char* url;
    const char* scheme;
    const char* host;
    int port;
    bool tls;
  };
  for (const Case& c : std::vector<Case>{
           {"grpc://example.com:1234", "grpc", "example.com", 1234, false},
           {"grpc://example.com", "grpc", "example.com", 50051, false},
           {"grpcs://example.com", "grpcs", "example.com", 443, true},
           {"grpcs://example.com:8443", "grpcs", "example.com", 8443, true},
           {"http://localhost", "http", "localhost", 80, false},
           {"https://localhost", "https", "localhost", 443, true},
           {"ws://localhost:8080", "ws", "localhost", 8080, false},
           {"wss://localhost", "wss", "localhost", 443, true},
           {"GRPCS://Example.com:1", "grpcs", "Example.com", 1, true},
           {"localhost:50052", "grpc", "localhost", 50052, false},
           {"localhost", "grpc", "localhost", 50051, false},
           {"10.0.0.1:65535", "grpc", "10.0.0.1", 65535, false},
       }) {
    SCOPED_TRACE(c.url);
    auto e = ParseEndpoint(c.url);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->scheme, c.scheme);
    EXPECT_EQ(e->host, c.host);
    EXPECT_EQ(e->port, c.port);
    EXPECT_EQ(e->tls, c.tls);
    EXPECT_EQ(e->path, "");
  }
}

TEST(ParseEndpointTest, Path) {
  auto e = ParseEndpoint("https://api.example.com:8443/kei/v1");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "api.example.com");
  EXPECT_EQ(e->port, 8443);
  EXPECT_EQ(e->path, "/kei/v1");
  EXPECT_EQ(e->authority(), "api.example.com:8443");

  e = ParseEndpoint("http://h/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "h");
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->path, "/");
}

TEST(ParseEndpointTest, Ipv6InBrackets) {
  auto e = ParseEndpoint("grpc://[::1]:50051");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 50051);
  EXPECT_EQ(e->authority(), "[::1]:50051");

  e = ParseEndpoint("grpcs://[2001:db8::7]");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "2001:db8::7");
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->authority(), "[2001:db8::7]:443");

  e = ParseEndpoint("[fe80::1]:9000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->scheme, "grpc");
  EXPECT_EQ(e->host, "fe80::1");
  EXPECT_EQ(e->port, 9000);

  e = ParseEndpoint("http://[::1]:8080/x");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->path, "/x");
}

TEST(ParseEndpointTest, Authority) {
  Endpoint e;
  e.host = "example.com";
  e.port = 80;
  EXPECT_EQ(e.authority(), "example.com:80");
  e.host = "::1";
  EXPECT_EQ(e.authority(), "[::1]:80");
}

TEST(ParseEndpointTest, BadPorts) {
  for (const char* url : {"grpc://h:0", "grpc://h:65536", "grpc://h:-1", "grpc://h:http",
                          "grpc://h:80x", "grpc://h:99999999999", "grpc://[::1]:0",
                          "grpc://[::1]:abc", "h:1.5"}) {
    SCOPED_TRACE(url);
    auto e = ParseEndpoint(url);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(e.status().message()), HasSubstr("bad port"));
    EXPECT_THAT(std::string(e.status().message()), HasSubstr(url));
  }
}

TEST(ParseEndpointTest, MissingHost) {
  for (const char* url : {"grpc://", "grpc://:50051", "", ":80", "grpc:///path",
                          "grpc://[]:80", "https://:443/x"}) {
    SCOPED_TRACE(url);
    auto e = ParseEndpoint(url);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(e.status().message()), HasSubstr("missing host"));
  }
}

TEST(ParseEndpointTest, MalformedBrackets) {
  for (const char* url : {"grpc://[::1", "grpc://[::1]x", "grpc://[::1]80"}) {
    SCOPED_TRACE(url);
    auto e = ParseEndpoint(url);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseEndpointTest, UnbracketedIpv6IsRejected) {
  // Without brackets the port cannot be told from the address.
  for (const char* url : {"grpc://::1", "grpc://2001:db8::1", "::1"}) {
    SCOPED_TRACE(url);
    auto e = ParseEndpoint(url);
    ASSERT_FALSE(e.ok()) << "parsed as host '" << e->host << "' port " << e->port;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(CallKindTest, FromStreamKind) {
  EXPECT_EQ(CallKindFor(StreamKind::kUnary), CallKind::kUnary);
  EXPECT_EQ(CallKindFor(StreamKind::kServerStreaming), CallKind::kStream);
  EXPECT_EQ(CallKindFor(StreamKind::kClientStreaming), CallKind::kStream);
  EXPECT_EQ(CallKindFor(StreamKind::kBidiStreaming), CallKind::kStream);
}

const std::vector<Protocol> kAll = {Protocol::kGrpc, Protocol::kHttp, Protocol::kWebSocket,
                                    Protocol::kMcp,  Protocol::kBus,  Protocol::kUnified};

TEST(ProtocolSelectorTest, DefaultOrders) {
  EXPECT_THAT(ProtocolSelector::DefaultOrder(CallKind::kUnary),
              ElementsAre(Protocol::kGrpc, Protocol::kHttp, Protocol::kWebSocket,
                          Protocol::kMcp));
  EXPECT_THAT(ProtocolSelector::DefaultOrder(CallKind::kStream),
              ElementsAre(Protocol::kWebSocket, Protocol::kGrpc, Protocol::kHttp));
  EXPECT_THAT(ProtocolSelector::DefaultOrder(CallKind::kTopic),
              ElementsAre(Protocol::kBus, Protocol::kWebSocket));
  EXPECT_THAT(ProtocolSelector::DefaultOrder(CallKind::kTool),
              ElementsAre(Protocol::kMcp, Protocol::kGrpc, Protocol::kHttp));
}

TEST(ProtocolSelectorTest, Carries) {
  EXPECT_TRUE(ProtocolSelector::Carries(Protocol::kGrpc, CallKind::kUnary));
  EXPECT_TRUE(ProtocolSelector::Carries(Protocol::kMcp, CallKind::kUnary));
  EXPECT_FALSE(ProtocolSelector::Carries(Protocol::kBus, CallKind::kUnary));
  EXPECT_FALSE(ProtocolSelector::Carries(Protocol::kMcp, CallKind::kStream));
  EXPECT_FALSE(ProtocolSelector::Carries(Protocol::kBus, CallKind::kStream));
  EXPECT_TRUE(ProtocolSelector::Carries(Protocol::kBus, CallKind::kTopic));
  EXPECT_FALSE(ProtocolSelector::Carries(Protocol::kGrpc, CallKind::kTopic));
  EXPECT_TRUE(ProtocolSelector::Carries(Protocol::kMcp, CallKind::kTool));
  EXPECT_FALSE(ProtocolSelector::Carries(Protocol::kWebSocket, CallKind::kTool));
  for (CallKind kind : {CallKind::kUnary, CallKind::kStream, CallKind::kTopic, CallKind::kTool}) {
    EXPECT_FALSE(ProtocolSelector::Carries(Protocol::kUnified, kind));
  }
}

TEST(ProtocolSelectorTest, KindBasedDefaultOrderAmongOffered) {
  ProtocolSelector selector;
  EXPECT_THAT(selector.Order(CallKind::kUnary, kAll, nullptr),
              ElementsAre(Protocol::kGrpc, Protocol::kHttp, Protocol::kWebSocket,
                          Protocol::kMcp));
  EXPECT_THAT(selector.Order(CallKind::kStream, kAll, nullptr),
              ElementsAre(Protocol::kWebSocket, Protocol::kGrpc, Protocol::kHttp));
  EXPECT_THAT(selector.Order(CallKind::kTopic, kAll, nullptr),
              ElementsAre(Protocol::kBus, Protocol::kWebSocket));
  EXPECT_THAT(selector.Order(CallKind::kTool, kAll, nullptr),
              ElementsAre(Protocol::kMcp, Protocol::kGrpc, Protocol::kHttp));
  // Only offered protocols appear, whatever order they were offered in.
  EXPECT_THAT(selector.Order(CallKind::kUnary, {Protocol::kMcp, Protocol::kHttp}, nullptr),
              ElementsAre(Protocol::kHttp, Protocol::kMcp));
  EXPECT_THAT(selector.Order(CallKind::kUnary, {}, nullptr), IsEmpty());
}

TEST(ProtocolSelectorTest, PreferenceComesFirst) {
  ProtocolSelector selector({Protocol::kMcp, Protocol::kHttp});
  EXPECT_THAT(selector.Order(CallKind::kUnary, kAll, nullptr),
              ElementsAre(Protocol::kMcp, Protocol::kHttp, Protocol::kGrpc,
                          Protocol::kWebSocket));
  // A preferred protocol that is not offered is skipped.
  EXPECT_THAT(selector.Order(CallKind::kUnary, {Protocol::kGrpc, Protocol::kHttp}, nullptr),
              ElementsAre(Protocol::kHttp, Protocol::kGrpc));
}

TEST(ProtocolSelectorTest, PreferredProtocolThatCannotCarryTheKindIsExcluded) {
  ProtocolSelector selector({Protocol::kBus, Protocol::kMcp, Protocol::kGrpc});
  // Neither bus nor MCP carries a stream.
  EXPECT_THAT(selector.Order(CallKind::kStream, kAll, nullptr),
              ElementsAre(Protocol::kGrpc, Protocol::kWebSocket, Protocol::kHttp));
  // Bus doesn't carry unary calls.
  EXPECT_THAT(selector.Order(CallKind::kUnary, kAll, nullptr),
              ElementsAre(Protocol::kMcp, Protocol::kGrpc, Protocol::kHttp,
                          Protocol::kWebSocket));
  // Nothing offered can carry a topic.
  EXPECT_THAT(selector.Order(CallKind::kTopic, {Protocol::kGrpc, Protocol::kHttp}, nullptr),
              IsEmpty());
}

TEST(ProtocolSelectorTest, DuplicatePreferencesAppearOnce) {
  ProtocolSelector selector({Protocol::kHttp, Protocol::kHttp, Protocol::kGrpc});
  EXPECT_THAT(selector.Order(CallKind::kUnary,
                             {Protocol::kGrpc, Protocol::kGrpc, Protocol::kHttp}, nullptr),
              ElementsAre(Protocol::kHttp, Protocol::kGrpc));
}

TEST(ProtocolSelectorTest, UnavailableProtocolsGoLastInOrder) {
  ProtocolSelector selector({Protocol::kHttp});
  auto down = [](std::vector<Protocol> unavailable) {
    return [unavailable](Protocol p) {
      return std::find(unavailable.begin(), unavailable.end(), p) == unavailable.end();
    };
  };
  EXPECT_THAT(selector.Order(CallKind::kUnary, kAll, down({Protocol::kHttp})),
              ElementsAre(Protocol::kGrpc, Protocol::kWebSocket, Protocol::kMcp,
                          Protocol::kHttp));
  EXPECT_THAT(
      selector.Order(CallKind::kUnary, kAll, down({Protocol::kHttp, Protocol::kGrpc})),
      ElementsAre(Protocol::kWebSocket, Protocol::kMcp, Protocol::kHttp, Protocol::kGrpc));
  // All down: same order as all up (still worth trying).
  EXPECT_THAT(selector.Order(CallKind::kUnary, kAll, [](Protocol) { return false; }),
              ElementsAre(Protocol::kHttp, Protocol::kGrpc, Protocol::kWebSocket,
                          Protocol::kMcp));
  EXPECT_THAT(selector.Order(CallKind::kUnary, kAll, [](Protocol) { return true; }),
              ElementsAre(Protocol::kHttp, Protocol::kGrpc, Protocol::kWebSocket,
                          Protocol::kMcp));
}

AttemptOutcome Outcome(absl::Status status, bool reached_server) {
  AttemptOutcome outcome;
  outcome.status = std::move(status);
  outcome.reached_server = reached_server;
  return outcome;
}

TEST(ProtocolSelectorTest, ShouldFallBack) {
  // UNAVAILABLE, idempotent: always.
  EXPECT_TRUE(ProtocolSelector::ShouldFallBack(Outcome(absl::UnavailableError(""), true), true));
  EXPECT_TRUE(
      ProtocolSelector::ShouldFallBack(Outcome(absl::UnavailableError(""), false), true));
  // UNAVAILABLE, not idempotent: only when the server never saw it.
  EXPECT_TRUE(
      ProtocolSelector::ShouldFallBack(Outcome(absl::UnavailableError(""), false), false));
  EXPECT_FALSE(
      ProtocolSelector::ShouldFallBack(Outcome(absl::UnavailableError(""), true), false));
  // Any other code: never.
  for (absl::Status status :
       {absl::OkStatus(), absl::DeadlineExceededError(""), absl::ResourceExhaustedError(""),
        absl::UnimplementedError(""), absl::InternalError(""), absl::UnknownError(""),
        absl::UnauthenticatedError(""), absl::CancelledError("")}) {
    SCOPED_TRACE(status.ToString());
    EXPECT_FALSE(ProtocolSelector::ShouldFallBack(Outcome(status, false), true));
    EXPECT_FALSE(ProtocolSelector::ShouldFallBack(Outcome(status, true), true));
  }
}

}  // namespace
}  // namespace kei

namespace kei {
namespace {

TEST(CallOptionsTest, DeadlinesCombineAndPropagate) {
  absl::Time now = absl::FromUnixSeconds(1000);
  CallOptions options;
  EXPECT_EQ(options.EffectiveDeadline(now), absl::InfiniteFuture());
  options.timeout = absl::Seconds(5);
  EXPECT_EQ(options.EffectiveDeadline(now), now + absl::Seconds(5));
  options.deadline = now + absl::Seconds(2);
  EXPECT_EQ(options.EffectiveDeadline(now), now + absl::Seconds(2));

  Context serving;
  serving.set_deadline(now + absl::Seconds(3));
  CallOptions child = CallOptions::InheritDeadline(serving);
  EXPECT_EQ(child.EffectiveDeadline(now), now + absl::Seconds(3));
  child.timeout = absl::Seconds(10);  // cannot extend the inherited deadline
  EXPECT_EQ(child.EffectiveDeadline(now), now + absl::Seconds(3));
}

}  // namespace
}  // namespace kei
