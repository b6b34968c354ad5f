// KEIStreamClient beyond plain ws://: over TLS (wss://, with and without a
// client certificate), with permessage-deflate, over gRPC (grpc://: topics
// through kei.v1.Topics, typed streams through the gRPC transport), and with a
// topic handler that throws (reported, not fatal). Real servers on loopback.
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clients/stream/kei_stream_client.h"
#include "clients/ws/stream_frame_codec.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.pb.h"
#include "tests/integration/test_services.h"
#include "tests/support/test_ca.h"

namespace kei::testing {
namespace {

// Subscribes, publishes `count` messages and waits until all arrived.
void ExpectTopicRoundTrip(KEIStreamClient& client, const std::string& topic, int count) {
  absl::Mutex mu;
  std::vector<uint64_t> sequences;
  auto id = client.Subscribe(topic, [&](const TopicEvent& event) {
    absl::MutexLock lock(&mu);
    sequences.push_back(event.sequence);
  });
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < count; ++i) {
    auto sequence = client.Publish(topic, *ws::ParseJsonValue(absl::StrCat(R"({"i":)", i, "}")));
    ASSERT_TRUE(sequence.ok()) << sequence.status();
  }
  for (int i = 0; i < 500; ++i) {
    {
      absl::MutexLock lock(&mu);
      if (static_cast<int>(sequences.size()) >= count) break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::MutexLock lock(&mu);
  ASSERT_EQ(static_cast<int>(sequences.size()), count);
  for (size_t i = 1; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], sequences[i - 1] + 1);
}

void ExpectChatEchoes(KEIStreamClient& client) {
  auto chat = client.OpenTypedStream<test::v1::EchoRequest, test::v1::EchoResponse>(
      "kei.test.v1.EchoService/Chat");
  ASSERT_TRUE(chat.ok()) << chat.status();
  test::v1::EchoRequest request;
  test::v1::EchoResponse response;
  for (int i = 0; i < 3; ++i) {
    request.set_text(absl::StrCat("m", i));
    ASSERT_TRUE(chat->Write(request));
    ASSERT_TRUE(chat->Read(&response));
    EXPECT_EQ(response.text(), absl::StrCat("m", i));
  }
  ASSERT_TRUE(chat->CloseSend());
  EXPECT_FALSE(chat->Read(&response));
  EXPECT_TRUE(chat->Finish().ok());
}

class StreamClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = CreateTestCertificates();
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void Start(bool mutual) {
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    options.tls.cert_file = certs_.server_cert;
    options.tls.key_file = certs_.server_key;
    if (mutual) {
      options.tls.client_ca_file = certs_.ca_cert;
      options.tls.require_client_cert = true;
    }
    auto started = StartTestServer(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }
  std::string Url() const { return absl::StrCat("wss://127.0.0.1:", server_.server->http_port()); }
  TestCertificates certs_;
  TestServer server_;
};

TEST_F(StreamClientTlsTest, WssVerifiesTheServer) {
  Start(/*mutual=*/false);
  KEIStreamClientOptions trusted;
  trusted.config.tls.ca_file = certs_.ca_cert;
  trusted.config.tls.server_name_override = "localhost";
  trusted.reconnect.enabled = false;
  KEIStreamClient client(Url(), trusted);
  ASSERT_TRUE(client.Connect().ok());
  ExpectTopicRoundTrip(client, "tls.room", 3);
  ExpectChatEchoes(client);

  KEIStreamClientOptions untrusted;  // system CAs only: the test CA is unknown
  untrusted.reconnect.enabled = false;
  untrusted.connect_timeout = absl::Seconds(5);
  KEIStreamClient refused(Url(), untrusted);
  EXPECT_FALSE(refused.Connect().ok());
}

TEST_F(StreamClientTlsTest, MutualTlsIdentityReachesHandlers) {
  Start(/*mutual=*/true);
  KEIStreamClientOptions options;
  options.config.tls.ca_file = certs_.ca_cert;
  options.config.tls.cert_file = certs_.client_cert;
  options.config.tls.key_file = certs_.client_key;
  options.config.tls.server_name_override = "localhost";
  options.reconnect.enabled = false;
  KEIStreamClient client(Url(), options);
  ASSERT_TRUE(client.Connect().ok());
  auto stream = client.OpenServerStream<test::v1::ExpandRequest, test::v1::EchoResponse>(
      "kei.test.v1.EchoService/Expand", [] {
        test::v1::ExpandRequest r;
        r.set_text("mtls");
        r.set_count(2);
        return r;
      }());
  ASSERT_TRUE(stream.ok()) << stream.status();
  test::v1::EchoResponse response;
  int n = 0;
  while (stream->Read(&response)) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(stream->Finish().ok());

  KEIStreamClientOptions no_cert;
  no_cert.config.tls.ca_file = certs_.ca_cert;
  no_cert.config.tls.server_name_override = "localhost";
  no_cert.reconnect.enabled = false;
  no_cert.connect_timeout = absl::Seconds(5);
  KEIStreamClient refused(Url(), no_cert);
  EXPECT_FALSE(refused.Connect().ok());
}

TEST(StreamClientModesTest, CompressionNegotiated) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  KEIStreamClientOptions client_options;
  client_options.compression = true;
  KEIStreamClient client(absl::StrCat("ws://", server->server->http_target()), client_options);
  ASSERT_TRUE(client.Connect().ok());
  ExpectTopicRoundTrip(client, "deflate.room", 5);
  ExpectChatEchoes(client);
}

TEST(StreamClientModesTest, SameApiOverGrpc) {
  auto server = StartTestServer();
  ASSERT_TRUE(server.ok()) << server.status();
  KEIStreamClient client(server->url());  // grpc://
  ASSERT_TRUE(client.Connect().ok());
  ExpectTopicRoundTrip(client, "grpc.room", 4);
  ExpectChatEchoes(client);
}

TEST(StreamClientModesTest, AuthTokenGoesInTheHandshake) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.auth.bearer_tokens["stream-token"] = "streamer";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string url = absl::StrCat("ws://", server->server->http_target());
  KEIStreamClientOptions anonymous;
  anonymous.reconnect.enabled = false;
  KEIStreamClient refused(url, anonymous);
  EXPECT_FALSE(refused.Connect().ok());

  KEIStreamClientOptions with_token;
  with_token.auth_token = "stream-token";
  KEIStreamClient client(url, with_token);
  ASSERT_TRUE(client.Connect().ok());
  ExpectTopicRoundTrip(client, "auth.room", 2);
}

TEST(StreamClientModesTest, ThrowingHandlerIsReportedNotFatal) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  auto server = StartTestServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::atomic<int> errors{0};
  KEIStreamClientOptions client_options;
  client_options.on_error = [&](const absl::Status&) { errors.fetch_add(1); };
  KEIStreamClient client(absl::StrCat("ws://", server->server->http_target()), client_options);
  ASSERT_TRUE(client.Connect().ok());
  std::atomic<int> calls{0};
  auto id = client.Subscribe("throws", [&](const TopicEvent&) {
    calls.fetch_add(1);
    throw std::runtime_error("handler bug");
  });
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.Publish("throws", *ws::ParseJsonValue("1")).ok());
  }
  for (int i = 0; i < 500 && (calls.load() < 3 || client.handler_errors() < 3 || errors.load() < 3);
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(client.handler_errors(), 3u);
  EXPECT_GE(errors.load(), 3);
  EXPECT_TRUE(client.IsConnected());
}

}  // namespace
}  // namespace kei::testing
