#include "cc/security/tls_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace kei {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsConfig& config) {
  if (!config.enabled()) return grpc::InsecureServerCredentials();
  if (config.cert_file.empty() || config.key_file.empty()) {
    return absl::InvalidArgumentError("tls: both cert_file and key_file are required");
  }
  grpc::SslServerCredentialsOptions options;
  auto cert = ReadFileToString(config.cert_file);
  if (!cert.ok()) return absl::InvalidArgumentError(absl::StrCat("tls.cert_file: ", cert.status().message()));
  auto key = ReadFileToString(config.key_file);
  if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("tls.key_file: ", key.status().message()));
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.client_ca_file.empty()) {
    auto ca = ReadFileToString(config.client_ca_file);
    if (!ca.ok()) return absl::InvalidArgumentError(absl::StrCat("tls.client_ca_file: ", ca.status().message()));
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        config.require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  } else if (config.require_client_cert) {
    return absl::InvalidArgumentError(
        "tls: require_client_cert needs client_ca_file to verify clients against");
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsConfig& config) {
  if (!config.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!config.ca_file.empty()) {
    auto ca = ReadFileToString(config.ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (!config.cert_file.empty() || !config.key_file.empty()) {
    auto cert = ReadFileToString(config.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFileToString(config.key_file);
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

}  // namespace kei
