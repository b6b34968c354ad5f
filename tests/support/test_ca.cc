// Generates the test CA, server, client and rogue certificates with the openssl
// CLI; see test_ca.h. Every openssl call gets an explicit config or extension
// file written here, so the result does not depend on the system openssl.cnf.
#include "tests/support/test_ca.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace kei::testing {
namespace {

constexpr absl::Duration kOpensslTimeout = absl::Seconds(60);

// Minimal config for `openssl req`: subjects come from -subj; v3_ca is used
// when the CA certificates self-sign.
constexpr char kReqConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
)";

constexpr char kServerExtensions[] = R"([ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

constexpr char kClientExtensions[] = R"([ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Runs one openssl command; `step` names it in the error.
absl::Status Openssl(absl::string_view step, std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  absl::StatusOr<CommandResult> result = RunCommand(args, kOpensslTimeout);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("openssl (", step, "): ", result.status().message()));
  }
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        "openssl (", step, ") failed with exit code ", result->exit_code, ": ",
        absl::StrJoin(args, " "), "\n", result->output));
  }
  return absl::OkStatus();
}

// A random positive 128-bit serial in openssl's -set_serial hex form.
std::string RandomSerial() {
  std::random_device rd;
  std::string serial = "0x";
  for (int i = 0; i < 4; ++i) {
    uint32_t word = rd();
    if (i == 0) word = (word & 0x7fffffff) | 0x10000000;  // no leading zero nibble
    absl::StrAppendFormat(&serial, "%08x", word);
  }
  return serial;
}

std::vector<std::string> NewEcKeyArgs(const std::string& key_out) {
  return {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", key_out};
}

// A self-signed CA certificate and its key.
absl::Status MakeCa(const std::string& req_config, absl::string_view name,
                    const std::string& cert, const std::string& key) {
  std::vector<std::string> args = {"req", "-x509", "-config", req_config,
                                   "-extensions", "v3_ca"};
  for (std::string& a : NewEcKeyArgs(key)) args.push_back(std::move(a));
  for (const char* a : {"-days", "1", "-sha256", "-subj"}) args.push_back(a);
  args.push_back(absl::StrCat("/CN=", name));
  args.push_back("-out");
  args.push_back(cert);
  return Openssl(absl::StrCat("create CA '", name, "'"), std::move(args));
}

// A key and a certificate for `common_name`, signed by the given CA with the
// extensions in `ext_file`.
absl::Status MakeLeaf(const std::string& dir, const std::string& req_config,
                      const std::string& ext_file, absl::string_view label,
                      absl::string_view common_name, const std::string& ca_cert,
                      const std::string& ca_key, const std::string& cert,
                      const std::string& key) {
  std::string csr = absl::StrCat(dir, "/", label, ".csr");
  std::vector<std::string> req = {"req", "-new", "-config", req_config};
  for (std::string& a : NewEcKeyArgs(key)) req.push_back(std::move(a));
  req.push_back("-subj");
  req.push_back(absl::StrCat("/CN=", common_name));
  req.push_back("-out");
  req.push_back(csr);
  if (absl::Status s = Openssl(absl::StrCat(label, " key and CSR"), std::move(req)); !s.ok()) {
    return s;
  }
  return Openssl(absl::StrCat("sign ", label, " certificate"),
                 {"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
                  "-set_serial", RandomSerial(), "-days", "1", "-sha256",
                  "-extfile", ext_file, "-extensions", "ext", "-out", cert});
}

absl::StatusOr<std::string> MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp",
                                  "/kei-certs-XXXXXX");
  std::vector<char> buffer(tmpl.begin(), tmpl.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp(", tmpl, "): ", std::strerror(errno)));
  }
  return std::string(buffer.data());
}

}  // namespace

absl::StatusOr<TestCertificates> CreateTestCertificates() {
  absl::StatusOr<std::string> dir = MakeTempDir();
  if (!dir.ok()) return dir.status();
  const std::string& d = *dir;

  TestCertificates certs;
  certs.dir = d;
  certs.ca_cert = d + "/ca.pem";
  certs.ca_key = d + "/ca.key";
  certs.server_cert = d + "/server.pem";
  certs.server_key = d + "/server.key";
  certs.client_cert = d + "/client.pem";
  certs.client_key = d + "/client.key";
  certs.rogue_ca_cert = d + "/rogue_ca.pem";
  std::string rogue_ca_key = d + "/rogue_ca.key";
  certs.rogue_client_cert = d + "/rogue_client.pem";
  certs.rogue_client_key = d + "/rogue_client.key";

  std::string req_config = d + "/req.cnf";
  std::string server_ext = d + "/server_ext.cnf";
  std::string client_ext = d + "/client_ext.cnf";
  const std::pair<std::string, absl::string_view> config_files[] = {
      {req_config, kReqConfig},
      {server_ext, kServerExtensions},
      {client_ext, kClientExtensions},
  };
  for (const auto& [path, contents] : config_files) {
    if (absl::Status s = WriteFile(path, contents); !s.ok()) return s;
  }

  if (absl::Status s = MakeCa(req_config, "KEI Test CA", certs.ca_cert, certs.ca_key);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = MakeLeaf(d, req_config, server_ext, "server", "localhost",
                                certs.ca_cert, certs.ca_key, certs.server_cert,
                                certs.server_key);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = MakeLeaf(d, req_config, client_ext, "client", "test-client",
                                certs.ca_cert, certs.ca_key, certs.client_cert,
                                certs.client_key);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = MakeCa(req_config, "KEI Rogue CA", certs.rogue_ca_cert, rogue_ca_key);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = MakeLeaf(d, req_config, client_ext, "rogue_client", "test-client",
                                certs.rogue_ca_cert, rogue_ca_key,
                                certs.rogue_client_cert, certs.rogue_client_key);
      !s.ok()) {
    return s;
  }
  return certs;
}

absl::StatusOr<std::string> ReadFileToString(absl::string_view path) {
  std::string p(path);
  std::ifstream in(p, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", p));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", p));
  return contents.str();
}

}  // namespace kei::testing
