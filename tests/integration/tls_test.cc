// TLS and mutual TLS on the gRPC listener, with a CA generated at test time:
// trusted clients connect, plaintext and unverified clients do not, a client
// without a certificate (or with one from another CA) is refused under mTLS,
// and the client certificate's name becomes the handler's identity.
#include "clients/kei_rpc_client.h"
#include "gtest/gtest.h"
#include "tests/integration/test_services.h"
#include "tests/support/test_ca.h"

namespace kei::testing {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = CreateTestCertificates();
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void Start(bool mutual) {
    ServerOptions options;
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
  absl::StatusOr<std::string> Whoami(const std::string& scheme, ClientConfig config) {
    config.retry = RetryPolicy::None();
    config.tls.server_name_override = "localhost";
    auto client = KEIRPCClient::Connect(
        absl::StrCat(scheme, "://127.0.0.1:", server_.server->grpc_port()), config);
    if (!client.ok()) return client.status();
    test::v1::EchoRequest request;
    request.set_text("whoami");
    test::v1::EchoResponse response;
    CallOptions options;
    options.timeout = absl::Seconds(5);
    absl::Status s =
        (*client)->Call("kei.test.v1.EchoService/Echo", request, &response, options);
    if (!s.ok()) return s;
    return response.text();
  }

  TestCertificates certs_;
  TestServer server_;
};

TEST_F(TlsTest, TrustedClientConnectsOthersDoNot) {
  Start(/*mutual=*/false);
  ClientConfig trusted;
  trusted.tls.ca_file = certs_.ca_cert;
  auto ok = Whoami("grpcs", trusted);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, ":");  // TLS alone authenticates nobody.

  EXPECT_EQ(Whoami("grpc", {}).status().code(), absl::StatusCode::kUnavailable);
  // System roots do not know the test CA.
  EXPECT_EQ(Whoami("grpcs", {}).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateFromTheTrustedCa) {
  Start(/*mutual=*/true);
  ClientConfig with_cert;
  with_cert.tls.ca_file = certs_.ca_cert;
  with_cert.tls.cert_file = certs_.client_cert;
  with_cert.tls.key_file = certs_.client_key;
  auto identity = Whoami("grpcs", with_cert);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, "mtls:test-client");

  ClientConfig without_cert;
  without_cert.tls.ca_file = certs_.ca_cert;
  EXPECT_EQ(Whoami("grpcs", without_cert).status().code(), absl::StatusCode::kUnavailable);

  ClientConfig rogue;
  rogue.tls.ca_file = certs_.ca_cert;
  rogue.tls.cert_file = certs_.rogue_client_cert;
  rogue.tls.key_file = certs_.rogue_client_key;
  EXPECT_EQ(Whoami("grpcs", rogue).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TlsTest, MissingCertificateFilesAreAClearStartError) {
  ServerOptions options;
  options.grpc_address = "127.0.0.1:0";
  options.tls.cert_file = certs_.dir + "/missing.pem";
  options.tls.key_file = certs_.server_key;
  Server server(options);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tls.cert_file"), std::string::npos) << s;
}

}  // namespace
}  // namespace kei::testing
