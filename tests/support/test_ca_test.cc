// Self-test for the test CA: the server and client certificates chain to the CA
// (with the right purposes, host name and IPs), the rogue client does not.
#include "tests/support/test_ca.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace kei::testing {
namespace {

using ::testing::HasSubstr;

CommandResult Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  absl::StatusOr<CommandResult> r = RunCommand(args, absl::Seconds(30));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{-1, 0, std::string(r.status().message())};
}

class TestCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestCertificates> certs = CreateTestCertificates();
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  TestCertificates certs_;
};

TEST_F(TestCaTest, ServerCertificateVerifiesForLocalhostAndLoopbackIps) {
  CommandResult r = Openssl({"verify", "-CAfile", certs_.ca_cert, "-purpose", "sslserver",
                             "-verify_hostname", "localhost", certs_.server_cert});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(": OK"));
  for (const char* ip : {"127.0.0.1", "::1"}) {
    r = Openssl({"verify", "-CAfile", certs_.ca_cert, "-purpose", "sslserver",
                 "-verify_ip", ip, certs_.server_cert});
    EXPECT_EQ(r.exit_code, 0) << ip << ": " << r.output;
  }
  r = Openssl({"verify", "-CAfile", certs_.ca_cert, "-verify_hostname", "example.com",
               certs_.server_cert});
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST_F(TestCaTest, ClientCertificateVerifiesAndNamesTestClient) {
  CommandResult r = Openssl(
      {"verify", "-CAfile", certs_.ca_cert, "-purpose", "sslclient", certs_.client_cert});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Openssl({"x509", "-in", certs_.client_cert, "-noout", "-subject"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("CN = test-client"));
}

TEST_F(TestCaTest, RogueClientDoesNotVerifyAgainstTheCa) {
  CommandResult r = Openssl({"verify", "-CAfile", certs_.ca_cert, certs_.rogue_client_cert});
  EXPECT_NE(r.exit_code, 0) << r.output;
  // It is a well-formed certificate, just from another CA.
  r = Openssl({"verify", "-CAfile", certs_.rogue_ca_cert, "-purpose", "sslclient",
               certs_.rogue_client_cert});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(TestCaTest, KeysMatchCertificatesAndFilesAreReadable) {
  for (const auto& [cert, key] : {std::pair{certs_.server_cert, certs_.server_key},
                                  std::pair{certs_.client_cert, certs_.client_key},
                                  std::pair{certs_.rogue_client_cert, certs_.rogue_client_key}}) {
    CommandResult from_cert = Openssl({"x509", "-in", cert, "-noout", "-pubkey"});
    CommandResult from_key = Openssl({"pkey", "-in", key, "-pubout"});
    EXPECT_EQ(from_cert.exit_code, 0) << from_cert.output;
    EXPECT_EQ(from_cert.output, from_key.output) << cert << " vs " << key;
    absl::StatusOr<std::string> pem = ReadFileToString(key);
    ASSERT_TRUE(pem.ok()) << pem.status();
    EXPECT_TRUE(absl::StartsWith(*pem, "-----BEGIN PRIVATE KEY-----")) << *pem;
  }
  absl::StatusOr<std::string> ca = ReadFileToString(certs_.ca_cert);
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_TRUE(absl::StartsWith(*ca, "-----BEGIN CERTIFICATE-----"));
  EXPECT_EQ(ReadFileToString(certs_.dir + "/missing.pem").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TestCaTest, EachCallUsesAFreshDirectory) {
  absl::StatusOr<TestCertificates> other = CreateTestCertificates();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->dir, certs_.dir);
  // Different CAs: the other set's server cert does not chain to this CA.
  CommandResult r = Openssl({"verify", "-CAfile", certs_.ca_cert, other->server_cert});
  EXPECT_NE(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace kei::testing
