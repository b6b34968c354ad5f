// A throw-away certificate authority for TLS and mTLS integration tests. Each
// call makes fresh keys and certificates with the openssl CLI in a new temporary
// directory, so tests never depend on checked-in key material that expires.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kei::testing {

// Paths (PEM files) of one generated set. Keys are EC prime256v1 in PKCS#8,
// certificates are SHA-256 signed and valid for one day.
struct TestCertificates {
  // The directory holding every file below.
  std::string dir;
  // The trusted CA ("KEI Test CA") and its key.
  std::string ca_cert;
  std::string ca_key;
  // Server certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1,
  // serverAuth) signed by the CA, and its key.
  std::string server_cert;
  std::string server_key;
  // Client certificate (CN=test-client, clientAuth) signed by the CA, and its key.
  std::string client_cert;
  std::string client_key;
  // An unrelated CA ("KEI Rogue CA") and a client certificate it signed, also
  // CN=test-client: a server trusting only ca_cert must reject it.
  std::string rogue_ca_cert;
  std::string rogue_client_cert;
  std::string rogue_client_key;
};

// Creates a new set in a fresh mkdtemp directory under $TEST_TMPDIR (or /tmp).
// Fails with a message naming the openssl step and carrying its output.
absl::StatusOr<TestCertificates> CreateTestCertificates();

// Reads a whole file, e.g. a PEM to hand to grpc::SslServerCredentialsOptions.
absl::StatusOr<std::string> ReadFileToString(absl::string_view path);

}  // namespace kei::testing
