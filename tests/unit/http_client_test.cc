// HttpClient and HttpTransport's Connect framing against a programmable
// loopback server (tests/support/http_test_server.h): methods, JSON, headers,
// retries (and when not to retry), timeouts, pooling, TLS, limits, streaming.
#include "clients/http/http_client.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cc/http/connect_wire.h"
#include "clients/http/http_transport.h"
#include "clients/protocol_client_factory.h"
#include "clients/unary_invoker.h"
#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_ca.h"

namespace kei {
namespace {

using ::kei::http::HttpClient;
using ::kei::http::HttpClientOptions;
using ::kei::http::HttpRequestInfo;
using ::kei::http::RequestOptions;
using ::kei::testing::HttpTestRequest;
using ::kei::testing::HttpTestResponse;
using ::kei::testing::HttpTestServer;
using ::testing::HasSubstr;

std::unique_ptr<HttpTestServer> StartServer(testing::HttpTestServerOptions options = {}) {
  auto server = HttpTestServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return *std::move(server);
}

HttpClientOptions FastRetries() {
  HttpClientOptions options;
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = absl::Milliseconds(10);
  options.retry.max_backoff = absl::Milliseconds(40);
  options.timeout = absl::Seconds(2);
  return options;
}

std::unique_ptr<HttpClient> MakeClient(HttpClientOptions options = FastRetries()) {
  auto client = HttpClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

HttpTestResponse Json(int status, std::string body) {
  HttpTestResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

// ---- Basic requests --------------------------------------------------------------

TEST(HttpClientTest, GetPostPutDelete) {
  auto server = StartServer();
  server->Handle("/items", [](const HttpTestRequest& r) {
    return Json(200, nlohmann::json{{"method", r.method}, {"body", r.body}}.dump());
  });
  auto client = MakeClient();
  std::string url = server->url() + "/items?x=1";

  auto get = client->Get(url);
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->json["method"], "GET");
  EXPECT_EQ(get->header("Content-Type"), "application/json");

  auto post = client->Post(url, R"({"a":1})", {{"content-type", "application/json"}});
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->json["method"], "POST");
  EXPECT_EQ(post->json["body"], R"({"a":1})");

  auto put = client->Put(url, "v");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->json["method"], "PUT");
  EXPECT_EQ(put->json["body"], "v");

  auto del = client->Delete(url);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->json["method"], "DELETE");

  auto patch = client->Request("PATCH", url, "p");
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->json["method"], "PATCH");
  EXPECT_EQ(server->received()[0].target, "/items?x=1");
}

TEST(HttpClientTest, JsonParsedWithRawFallback) {
  auto server = StartServer();
  server->Handle("/json", Json(200, R"({"n": [1, 2, 3]})"));
  HttpTestResponse text;
  text.body = "plain <b>text</b>";
  server->Handle("/text", text);
  server->Handle("/empty", HttpTestResponse{.status = 204});
  auto client = MakeClient();

  auto json = client->Get(server->url() + "/json");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->json["n"][2], 3);
  auto raw = client->Get(server->url() + "/text");
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(raw->json.is_string());
  EXPECT_EQ(raw->json.get<std::string>(), "plain <b>text</b>");
  EXPECT_EQ(raw->body, "plain <b>text</b>");
  auto empty = client->Get(server->url() + "/empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->status, 204);
  EXPECT_TRUE(empty->json.is_null());
}

TEST(HttpClientTest, SendsHeadersAndBearerToken) {
  auto server = StartServer();
  server->Handle("/h", HttpTestResponse{});
  HttpClientOptions options = FastRetries();
  options.bearer_token = "s3cret";
  options.default_headers = {{"X-Default", "d"}, {"x-overridden", "default"}};
  auto client = MakeClient(options);
  ASSERT_TRUE(client->Get(server->url() + "/h", {{"X-Overridden", "mine"}, {"x-extra", "e"}}).ok());
  RequestOptions no_token;
  no_token.bearer_token = "";
  ASSERT_TRUE(client->Get(server->url() + "/h", {}, no_token).ok());

  auto received = server->received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].header("authorization"), "Bearer s3cret");
  EXPECT_EQ(received[0].header("x-default"), "d");
  EXPECT_EQ(received[0].header("x-overridden"), "mine");
  EXPECT_EQ(received[0].headers.count("x-overridden"), 1u);
  EXPECT_EQ(received[0].header("x-extra"), "e");
  EXPECT_EQ(received[0].header("host"), absl::StrCat("127.0.0.1:", server->port()));
  EXPECT_EQ(received[1].headers.count("authorization"), 0u);
}

TEST(HttpClientTest, RejectsBadUrls) {
  auto client = MakeClient();
  for (const char* url : {"ftp://x/", "no-scheme", "http:///path", "http://h:99999/"}) {
    auto r = client->Get(url);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
}

// ---- Retries -------------------------------------------------------------------

TEST(HttpClientTest, ClientErrorsAreResponsesAndNotRetried) {
  auto server = StartServer();
  server->Handle("/bad", Json(400, R"({"error":"bad"})"));
  auto client = MakeClient();
  HttpRequestInfo info;
  RequestOptions options;
  options.info = &info;
  auto r = client->Get(server->url() + "/bad", {}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->json["error"], "bad");
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(server->requests("/bad"), 1);
  // 429 without Retry-After is a 4xx like any other.
  server->Handle("/busy", Json(429, "{}"));
  ASSERT_TRUE(client->Get(server->url() + "/busy").ok());
  EXPECT_EQ(server->requests("/busy"), 1);
}

TEST(HttpClientTest, ServerErrorsRetriedWithBackoffUntilSuccess) {
  auto server = StartServer();
  std::atomic<int> calls{0};
  server->Handle("/flaky", [&](const HttpTestRequest&) {
    return ++calls < 3 ? Json(500, R"({"e":1})") : Json(200, R"({"ok":true})");
  });
  auto client = MakeClient();
  HttpRequestInfo info;
  RequestOptions options;
  options.info = &info;
  auto r = client->Get(server->url() + "/flaky", {}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(info.attempts, 3);
  EXPECT_EQ(server->requests("/flaky"), 3);
}

TEST(HttpClientTest, ServerErrorReturnedAfterAttemptsExhausted) {
  auto server = StartServer();
  server->Handle("/down", Json(503, R"({"e":"down"})"));
  auto client = MakeClient();
  auto r = client->Get(server->url() + "/down");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->json["e"], "down");
  EXPECT_EQ(server->requests("/down"), 3);
  // A POST that reached the server is not retried on 5xx.
  ASSERT_TRUE(client->Post(server->url() + "/down", "x").ok());
  EXPECT_EQ(server->requests("/down"), 4);
}

TEST(HttpClientTest, RetryAfterHonouredWithinTheDeadline) {
  auto server = StartServer();
  std::atomic<int> calls{0};
  server->Handle("/later", [&](const HttpTestRequest&) {
    HttpTestResponse r = Json(calls++ == 0 ? 503 : 200, "{}");
    if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
    return r;
  });
  auto client = MakeClient();
  absl::Time start = absl::Now();
  auto r = client->Get(server->url() + "/later");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));

  // A Retry-After beyond the deadline ends the call with the 503 at once.
  server->Handle("/much-later", [&](const HttpTestRequest&) {
    HttpTestResponse r = Json(503, "{}");
    r.headers.emplace_back("Retry-After", "10");
    return r;
  });
  start = absl::Now();
  r = client->Get(server->url() + "/much-later");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_EQ(server->requests("/much-later"), 1);
}

TEST(HttpClientTest, NetworkErrorRetriedForIdempotentMethods) {
  auto server = StartServer();
  server->Handle("/drop", HttpTestResponse{.close_without_response = true});
  auto client = MakeClient();
  auto r = client->Get(server->url() + "/drop");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("3 attempts"));
  EXPECT_EQ(server->requests("/drop"), 3);
}

TEST(HttpClientTest, PostNotRetriedAfterServerMayHaveProcessedIt) {
  auto server = StartServer();
  server->Handle("/drop", HttpTestResponse{.close_without_response = true});
  auto client = MakeClient();
  HttpRequestInfo info;
  RequestOptions options;
  options.info = &info;
  auto r = client->Post(server->url() + "/drop", "charge card", {}, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server->requests("/drop"), 1);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_TRUE(info.reached_server);
}

TEST(HttpClientTest, ConnectFailureRetriedForAnyMethod) {
  int port;
  {
    auto server = StartServer();
    port = server->port();
  }
  auto client = MakeClient();
  HttpRequestInfo info;
  RequestOptions options;
  options.info = &info;
  auto r = client->Post(absl::StrCat("http://127.0.0.1:", port, "/x"), "x", {}, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("cannot connect"));
  EXPECT_EQ(info.attempts, 3);
  EXPECT_FALSE(info.reached_server);
}

TEST(HttpClientTest, StalePooledConnectionReplacedTransparently) {
  auto server = StartServer();
  server->Handle("/once", HttpTestResponse{.body = "a", .drop_after_response = true});
  server->Handle("/ok", HttpTestResponse{.body = "b"});
  HttpClientOptions options = FastRetries();
  options.retry = RetryPolicy::None();
  auto client = MakeClient(options);
  ASSERT_TRUE(client->Get(server->url() + "/once").ok());
  absl::SleepFor(absl::Milliseconds(50));  // the server's FIN arrives
  auto r = client->Post(server->url() + "/ok", "x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "b");
  EXPECT_EQ(server->connections_accepted(), 2);
}

TEST(HttpClientTest, ReusedConnectionFailureRedoneOnceOnlyWhenSafe) {
  auto server = StartServer();
  server->Handle("/warm", HttpTestResponse{.body = "w"});
  // Each first request on a reused connection is dropped unanswered, as by a
  // server that timed the idle connection out just as the request arrived.
  server->Handle("/target", [](const HttpTestRequest& r) {
    static std::atomic<int> calls{0};
    HttpTestResponse out{.body = "t"};
    out.close_without_response = r.connection == 1 && calls++ % 2 == 0;
    return out;
  });
  HttpClientOptions options = FastRetries();
  options.retry = RetryPolicy::None();  // the redo is not a retry
  auto client = MakeClient(options);
  ASSERT_TRUE(client->Get(server->url() + "/warm").ok());
  HttpRequestInfo info;
  RequestOptions request_options;
  request_options.info = &info;
  auto r = client->Get(server->url() + "/target", {}, request_options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "t");
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(server->requests("/target"), 2);
  EXPECT_EQ(server->connections_accepted(), 2);
}

TEST(HttpClientTest, ReusedConnectionFailureNotRedoneForPost) {
  auto server = StartServer();
  server->Handle("/warm", HttpTestResponse{.body = "w"});
  server->Handle("/pay", HttpTestResponse{.close_without_response = true});
  HttpClientOptions options = FastRetries();
  auto client = MakeClient(options);
  ASSERT_TRUE(client->Get(server->url() + "/warm").ok());
  auto r = client->Post(server->url() + "/pay", "once");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server->requests("/pay"), 1);
}

// ---- Timeouts ----------------------------------------------------------------------

TEST(HttpClientTest, TotalTimeoutBoundsAHungServer) {
  auto server = StartServer();
  server->Handle("/slow", HttpTestResponse{.body = "late", .delay = absl::Seconds(5)});
  HttpClientOptions options = FastRetries();
  options.timeout = absl::Milliseconds(300);
  auto client = MakeClient(options);
  absl::Time start = absl::Now();
  auto r = client->Get(server->url() + "/slow");
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Milliseconds(800));
  // A per-request timeout replaces the client's.
  RequestOptions request_options;
  request_options.timeout = absl::Milliseconds(100);
  start = absl::Now();
  r = client->Get(server->url() + "/slow", {}, request_options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  server->Stop();
}

// ---- Pooling -----------------------------------------------------------------------

TEST(HttpClientTest, SequentialRequestsShareOneConnection) {
  auto server = StartServer();
  server->Handle("/r", Json(200, "{}"));
  auto client = MakeClient();
  for (int i = 0; i < 20; ++i) {
    auto r = client->Request(i % 2 ? "POST" : "GET", server->url() + "/r", "body");
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_EQ(server->connections_accepted(), 1);
  EXPECT_EQ(client->open_connections(), 1);
  EXPECT_EQ(client->idle_connections(), 1);
}

TEST(HttpClientTest, PerHostLimitRespectedUnderConcurrency) {
  auto server = StartServer();
  server->Handle("/work", HttpTestResponse{.body = "done", .delay = absl::Milliseconds(50)});
  HttpClientOptions options = FastRetries();
  options.max_connections_per_host = 2;
  auto client = MakeClient(options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2; ++i) {
        auto r = client->Get(server->url() + "/work");
        if (r.ok() && r->body == "done") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
  EXPECT_LE(server->max_connections_open(), 2);
  EXPECT_EQ(server->connections_accepted(), 2);
  EXPECT_EQ(client->open_connections(), 2);
}

TEST(HttpClientTest, PoolWaitIsBoundedByTheTimeout) {
  auto server = StartServer();
  server->Handle("/hold", HttpTestResponse{.delay = absl::Milliseconds(600)});
  HttpClientOptions options = FastRetries();
  options.max_connections = 1;
  options.timeout = absl::Milliseconds(200);
  auto client = MakeClient(options);
  std::thread holder([&] {
    RequestOptions long_wait;
    long_wait.timeout = absl::Seconds(2);
    EXPECT_TRUE(client->Get(server->url() + "/hold", {}, long_wait).ok());
  });
  absl::SleepFor(absl::Milliseconds(100));
  auto r = client->Get(server->url() + "/hold");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("free connection"));
  holder.join();
}

// ---- TLS ---------------------------------------------------------------------------

class HttpClientTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto certs = testing::CreateTestCertificates();
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = new testing::TestCertificates(*certs);
  }
  void SetUp() override {
    ASSERT_NE(certs_, nullptr);
    server_ = StartServer({.cert_file = certs_->server_cert, .key_file = certs_->server_key});
    server_->Handle("/secure", Json(200, R"({"tls":true})"));
  }
  static testing::TestCertificates* certs_;
  std::unique_ptr<HttpTestServer> server_;
};
testing::TestCertificates* HttpClientTlsTest::certs_ = nullptr;

TEST_F(HttpClientTlsTest, VerifiedWithTheRightCa) {
  HttpClientOptions options = FastRetries();
  options.tls.ca_file = certs_->ca_cert;
  auto client = MakeClient(options);
  ASSERT_EQ(server_->url().substr(0, 8), "https://");
  auto r = client->Get(server_->url() + "/secure");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->json["tls"], true);
  // By name too: the certificate's SAN has DNS:localhost.
  r = client->Get(absl::StrCat("https://localhost:", server_->port(), "/secure"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(client->Get(server_->url() + "/secure").ok());
  EXPECT_LE(server_->connections_accepted(), 2);
}

TEST_F(HttpClientTlsTest, WrongCaFailsVerification) {
  HttpClientOptions options = FastRetries();
  options.tls.ca_file = certs_->rogue_ca_cert;
  auto client = MakeClient(options);
  auto r = client->Get(server_->url() + "/secure");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("certificate verification"));
  EXPECT_EQ(server_->requests("/secure"), 0);
  EXPECT_EQ(server_->connections_accepted(), 1);  // not retried
}

TEST_F(HttpClientTlsTest, WrongHostNameFailsVerification) {
  HttpClientOptions options = FastRetries();
  options.tls.ca_file = certs_->ca_cert;
  options.tls.server_name_override = "other.example";
  auto client = MakeClient(options);
  auto r = client->Get(server_->url() + "/secure");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("hostname mismatch"));
}

TEST_F(HttpClientTlsTest, VerificationCanBeDisabled) {
  HttpClientOptions options = FastRetries();
  options.tls.verify = false;  // and no CA: the system roots would not know it
  auto client = MakeClient(options);
  auto r = client->Get(server_->url() + "/secure");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpClientTlsTest, SystemRootsDoNotTrustTheTestCa) {
  auto client = MakeClient();
  auto r = client->Get(server_->url() + "/secure");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpClientTest, MissingCaFileIsAnError) {
  HttpClientOptions options;
  options.tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(HttpClient::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- Limits and streaming ------------------------------------------------------------

TEST(HttpClientTest, ResponseSizeLimit) {
  auto server = StartServer();
  server->Handle("/big", HttpTestResponse{.body = std::string(4096, 'x')});
  server->Handle("/big-chunked",
                 HttpTestResponse{.chunks = {std::string(800, 'a'), std::string(800, 'b')}});
  HttpClientOptions options = FastRetries();
  options.max_response_bytes = 1024;
  auto client = MakeClient(options);
  auto r = client->Get(server->url() + "/big");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_EQ(server->requests("/big"), 1);
  r = client->Get(server->url() + "/big-chunked");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
}

TEST(HttpClientTest, ChunkedStreamingRead) {
  auto server = StartServer();
  server->Handle("/events", HttpTestResponse{.headers = {{"Content-Type", "text/plain"}},
                                            .chunks = {"one\n", "two\n", "three\n"},
                                            .chunk_delay = absl::Milliseconds(30)});
  server->Handle("/after", HttpTestResponse{.body = "after"});
  auto client = MakeClient();
  http::HttpRequest request;
  request.url = server->url() + "/events";
  auto stream = client->OpenStream(request);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ((*stream)->status(), 200);
  EXPECT_EQ((*stream)->headers().find("content-type")->second, "text/plain");
  std::string all, chunk;
  int pieces = 0;
  while ((*stream)->ReadSome(&chunk)) {
    all += chunk;
    ++pieces;
  }
  EXPECT_TRUE((*stream)->read_status().ok()) << (*stream)->read_status();
  EXPECT_EQ(all, "one\ntwo\nthree\n");
  EXPECT_GE(pieces, 3);  // the pieces arrive as they are sent
  stream->reset();
  // The connection went back to the pool.
  ASSERT_TRUE(client->Get(server->url() + "/after").ok());
  EXPECT_EQ(server->connections_accepted(), 1);
}

TEST(HttpClientTest, StreamUntilEof) {
  auto server = StartServer();
  server->Handle("/eof", HttpTestResponse{.body = "to the end", .until_eof = true});
  auto client = MakeClient();
  auto stream = client->OpenStream({.url = server->url() + "/eof"});
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string all, chunk;
  while ((*stream)->ReadSome(&chunk)) all += chunk;
  EXPECT_TRUE((*stream)->read_status().ok());
  EXPECT_EQ(all, "to the end");
}

TEST(HttpClientTest, StreamCancelFromAnotherThread) {
  auto server = StartServer();
  server->Handle("/forever", HttpTestResponse{.chunks = {"first", "never"},
                                             .chunk_delay = absl::Seconds(5)});
  auto client = MakeClient();
  auto stream = client->OpenStream({.url = server->url() + "/forever"});
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    (*stream)->Cancel();
  });
  absl::Time start = absl::Now();
  std::string chunk;
  EXPECT_FALSE((*stream)->ReadSome(&chunk));
  EXPECT_EQ((*stream)->read_status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  canceller.join();
  server->Stop();
}

TEST(HttpClientTest, StreamDeadline) {
  auto server = StartServer();
  server->Handle("/slow-stream", HttpTestResponse{.chunks = {"a", "b"},
                                                 .chunk_delay = absl::Seconds(5)});
  auto client = MakeClient();
  http::HttpRequest request{.url = server->url() + "/slow-stream"};
  request.options.timeout = absl::Milliseconds(200);
  auto stream = client->OpenStream(request);
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string chunk;
  EXPECT_FALSE((*stream)->ReadSome(&chunk));
  EXPECT_EQ((*stream)->read_status().code(), absl::StatusCode::kDeadlineExceeded);
  server->Stop();
}

TEST(HttpClientTest, RetryAfterParsing) {
  absl::Time now = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(http::ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(http::ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now), absl::Seconds(10));
  EXPECT_FALSE(http::ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(http::ParseRetryAfter("-1", now).has_value());
}

// ---- HttpTransport (Connect framing) ----------------------------------------------------

MethodInfo EchoMethod(StreamKind kind = StreamKind::kUnary) {
  MethodInfo m;
  m.service_name = "kei.test.v1.EchoService";
  m.method_name = kind == StreamKind::kUnary ? "Echo" : "Expand";
  m.full_name = m.service_name + "/" + m.method_name;
  m.path = "/" + m.full_name;
  m.kind = kind;
  return m;
}

std::shared_ptr<HttpTransport> MakeTransport(const HttpTestServer& server,
                                            absl::string_view suffix = "",
                                            HttpTransportOptions options = {},
                                            ClientConfig config = {}) {
  auto endpoint = ParseEndpoint(server.url() + std::string(suffix));
  EXPECT_TRUE(endpoint.ok());
  auto transport = HttpTransport::Create(*endpoint, config, options);
  EXPECT_TRUE(transport.ok()) << transport.status();
  return *transport;
}

std::string ProtoBytes(const std::string& value) {
  google::protobuf::StringValue message;
  message.set_value(value);
  return message.SerializeAsString();
}

TEST(HttpTransportTest, UnaryProtoSuccess) {
  auto server = StartServer();
  server->Handle("/api/kei.test.v1.EchoService/Echo", [](const HttpTestRequest& r) {
    google::protobuf::StringValue in;
    HttpTestResponse out;
    if (!in.ParseFromString(r.body)) return Json(400, R"({"code":"invalid_argument"})");
    out.headers = {{"Content-Type", "application/proto"}};
    out.body = ProtoBytes("echo: " + in.value());
    return out;
  });
  ClientConfig config;
  config.bearer_token = "tok";
  config.api_key = "key";
  config.metadata = {{"x-tenant", "t1"}};
  auto transport = MakeTransport(*server, "/api/", {}, config);
  EXPECT_EQ(transport->protocol(), Protocol::kHttp);
  EXPECT_EQ(transport->target(), server->url() + "/api");

  google::protobuf::StringValue request, response;
  request.set_value("hi");
  CallOptions options;
  options.timeout = absl::Seconds(5);
  options.metadata = {{"x-trace-bin", std::string("\x01\x02", 2)}};
  AttemptOutcome outcome = transport->Unary(EchoMethod(), request, &response, options);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(response.value(), "echo: hi");

  HttpTestRequest seen = server->received().at(0);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.header("content-type"), "application/proto");
  EXPECT_EQ(seen.header("connect-protocol-version"), "1");
  int64_t timeout_ms = 0;
  ASSERT_TRUE(absl::SimpleAtoi(seen.header("connect-timeout-ms"), &timeout_ms));
  EXPECT_GT(timeout_ms, 4000);
  EXPECT_LE(timeout_ms, 5000);
  EXPECT_EQ(seen.header("authorization"), "Bearer tok");
  EXPECT_EQ(seen.header("x-api-key"), "key");
  EXPECT_EQ(seen.header("x-tenant"), "t1");
  EXPECT_EQ(seen.header("x-trace-bin"), "AQI=");
}

TEST(HttpTransportTest, UnaryJsonCodec) {
  auto server = StartServer();
  server->Handle("/kei.test.v1.EchoService/Echo", [](const HttpTestRequest& r) {
    HttpTestResponse out = Json(200, r.body == R"("hi")" ? R"("json back")" : R"("?")");
    return out;
  });
  auto transport = MakeTransport(*server, "", {.codec = "json"});
  google::protobuf::StringValue request, response;
  request.set_value("hi");
  AttemptOutcome outcome = transport->Unary(EchoMethod(), request, &response, {});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(response.value(), "json back");
  EXPECT_EQ(server->received().at(0).header("content-type"), "application/json");
}

TEST(HttpTransportTest, UnaryErrorBodyAndPushback) {
  auto server = StartServer();
  server->Handle("/kei.test.v1.EchoService/Echo",
                 Json(404, R"({"code":"not_found","message":"no such echo"})"));
  auto transport = MakeTransport(*server);
  google::protobuf::StringValue request, response;
  AttemptOutcome outcome = transport->Unary(EchoMethod(), request, &response, {});
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(outcome.status.message(), "no such echo");
  EXPECT_TRUE(outcome.reached_server);

  HttpTestResponse busy = Json(503, R"({"code":"unavailable","message":"busy"})");
  busy.headers.emplace_back("Retry-After", "2");
  server->Handle("/kei.test.v1.EchoService/Echo", busy);
  outcome = transport->Unary(EchoMethod(), request, &response, {});
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(outcome.pushback, absl::Seconds(2));
  EXPECT_EQ(server->requests("/kei.test.v1.EchoService/Echo"), 2);  // one attempt each

  HttpTestResponse pushback = Json(429, R"({"code":"resource_exhausted","message":"slow"})");
  pushback.headers.emplace_back("grpc-retry-pushback-ms", "150");
  server->Handle("/kei.test.v1.EchoService/Echo", pushback);
  outcome = transport->Unary(EchoMethod(), request, &response, {});
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(outcome.pushback, absl::Milliseconds(150));

  // A non-Connect error body: the code comes from the HTTP status.
  server->Handle("/kei.test.v1.EchoService/Echo", HttpTestResponse{.status = 502, .body = "gw"});
  outcome = transport->Unary(EchoMethod(), request, &response, {});
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
}

TEST(HttpTransportTest, UnaryConnectionRefusedNeverReachedServer) {
  int port;
  {
    auto server = StartServer();
    port = server->port();
  }
  auto endpoint = ParseEndpoint(absl::StrCat("http://127.0.0.1:", port));
  auto transport = HttpTransport::Create(*endpoint, ClientConfig{});
  ASSERT_TRUE(transport.ok());
  google::protobuf::StringValue request, response;
  AttemptOutcome outcome = (*transport)->Unary(EchoMethod(), request, &response, {});
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(outcome.reached_server);
}

TEST(HttpTransportTest, UnaryDeadlineExceeded) {
  auto server = StartServer();
  server->Handle("/kei.test.v1.EchoService/Echo",
                 HttpTestResponse{.delay = absl::Seconds(3)});
  auto transport = MakeTransport(*server);
  google::protobuf::StringValue request, response;
  CallOptions options;
  options.timeout = absl::Milliseconds(150);
  absl::Time start = absl::Now();
  AttemptOutcome outcome = transport->Unary(EchoMethod(), request, &response, options);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDeadlineExceeded) << outcome.status;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(600));
  server->Stop();
}

// Splits `body` into pieces of `size` bytes, so envelopes straddle chunks.
std::vector<std::string> Split(const std::string& body, size_t size) {
  std::vector<std::string> out;
  for (size_t i = 0; i < body.size(); i += size) out.push_back(body.substr(i, size));
  return out;
}

TEST(HttpTransportTest, ServerStreamingWithEndStreamError) {
  auto server = StartServer();
  std::string body;
  for (const char* v : {"a", "bb", "ccc"}) connect::AppendEnvelope(0, ProtoBytes(v), &body);
  connect::AppendEnvelope(connect::kFlagEndStream,
                          R"({"error":{"code":"resource_exhausted","message":"quota"}})", &body);
  std::string request_body;
  server->Handle("/kei.test.v1.EchoService/Expand", [&](const HttpTestRequest& r) {
    request_body = r.body;
    HttpTestResponse out;
    out.headers = {{"Content-Type", "application/connect+proto"}};
    out.chunks = Split(body, 3);
    return out;
  });
  auto transport = MakeTransport(*server);
  auto stream = transport->OpenStream(EchoMethod(StreamKind::kServerStreaming), {});
  ASSERT_TRUE(stream.ok()) << stream.status();
  google::protobuf::StringValue request;
  request.set_value("go");
  ASSERT_TRUE((*stream)->Write(request));
  EXPECT_FALSE((*stream)->Write(request));  // server streaming takes one request
  ASSERT_TRUE((*stream)->CloseSend());
  std::vector<std::string> got;
  google::protobuf::StringValue message;
  while ((*stream)->Read(&message)) got.push_back(message.value());
  EXPECT_THAT(got, ::testing::ElementsAre("a", "bb", "ccc"));
  absl::Status status = (*stream)->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "quota");

  std::string expected_request;
  connect::AppendEnvelope(0, ProtoBytes("go"), &expected_request);
  EXPECT_EQ(request_body, expected_request);
  auto seen = server->received().at(0);
  EXPECT_EQ(seen.header("content-type"), "application/connect+proto");
}

TEST(HttpTransportTest, StreamingSuccessAndClientStreamingBuffersWrites) {
  auto server = StartServer();
  server->Handle("/kei.test.v1.EchoService/Expand", [](const HttpTestRequest& r) {
    // Echo every request envelope back, then end the stream cleanly.
    std::string body;
    connect::EnvelopeReader reader(r.body, 1 << 20);
    connect::EnvelopeReader::Envelope envelope;
    while (reader.Next(&envelope)) connect::AppendEnvelope(0, envelope.payload, &body);
    connect::AppendEnvelope(connect::kFlagEndStream, "{}", &body);
    HttpTestResponse out;
    out.headers = {{"Content-Type", "application/connect+proto"}};
    out.body = body;
    return out;
  });
  auto transport = MakeTransport(*server);
  auto stream = transport->OpenStream(EchoMethod(StreamKind::kClientStreaming), {});
  ASSERT_TRUE(stream.ok());
  google::protobuf::StringValue message;
  for (const char* v : {"x", "y"}) {
    message.set_value(v);
    ASSERT_TRUE((*stream)->Write(message));
  }
  ASSERT_TRUE((*stream)->CloseSend());
  std::vector<std::string> got;
  while ((*stream)->Read(&message)) got.push_back(message.value());
  EXPECT_THAT(got, ::testing::ElementsAre("x", "y"));
  EXPECT_TRUE((*stream)->Finish().ok()) << (*stream)->Finish();
}

TEST(HttpTransportTest, StreamingProtocolErrors) {
  auto server = StartServer();
  std::string truncated;
  connect::AppendEnvelope(0, ProtoBytes("only"), &truncated);
  server->Handle("/kei.test.v1.EchoService/Expand",
                 HttpTestResponse{.headers = {{"Content-Type", "application/connect+proto"}},
                                  .body = truncated});
  auto transport = MakeTransport(*server);
  auto stream = transport->OpenStream(EchoMethod(StreamKind::kServerStreaming), {});
  ASSERT_TRUE(stream.ok());
  google::protobuf::StringValue message;
  ASSERT_TRUE((*stream)->Write(message));
  ASSERT_TRUE((*stream)->Read(&message));  // CloseSend implied
  EXPECT_EQ(message.value(), "only");
  EXPECT_FALSE((*stream)->Read(&message));
  EXPECT_EQ((*stream)->Finish().code(), absl::StatusCode::kInternal);

  // An error before the stream starts: HTTP status and a Connect error body.
  server->Handle("/kei.test.v1.EchoService/Expand",
                 Json(401, R"({"code":"unauthenticated","message":"who are you"})"));
  stream = transport->OpenStream(EchoMethod(StreamKind::kServerStreaming), {});
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE((*stream)->Write(message));
  EXPECT_FALSE((*stream)->CloseSend());
  EXPECT_FALSE((*stream)->Read(&message));
  absl::Status status = (*stream)->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(), "who are you");
}

TEST(HttpTransportTest, FactoryRegistersHttpSchemes) {
  auto server = StartServer();
  server->Handle("/kei.test.v1.EchoService/Echo", [](const HttpTestRequest&) {
    HttpTestResponse out;
    out.headers = {{"Content-Type", "application/proto"}};
    out.body = ProtoBytes("via factory");
    return out;
  });
  const auto& factory = ProtocolClientFactory::Default();
  EXPECT_TRUE(factory.Supports("http"));
  EXPECT_TRUE(factory.Supports("https"));
  auto transport = factory.CreateTransport(server->url(), ClientConfig{});
  ASSERT_TRUE(transport.ok()) << transport.status();
  EXPECT_EQ((*transport)->protocol(), Protocol::kHttp);
  google::protobuf::StringValue request, response;
  ASSERT_TRUE(InvokeUnary(**transport, EchoMethod(), request, &response, {}, RetryPolicy{}).ok());
  EXPECT_EQ(response.value(), "via factory");
}

}  // namespace
}  // namespace kei
