// TLS and mutual TLS settings, as certificate files, for every listener and
// client transport. Files are read when a server or channel is built, and a
// missing or unreadable file is a clear error instead of a silent plaintext
// fallback.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace kei {

struct ServerTlsConfig {
  // PEM certificate chain and private key; both empty means plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle used to verify client certificates (mutual TLS).
  std::string client_ca_file;
  // Refuse clients that present no valid certificate.
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct ClientTlsConfig {
  bool enabled = false;
  // PEM CA bundle for verifying the server; empty means the system roots.
  std::string ca_file;
  // Client certificate and key for mutual TLS.
  std::string cert_file;
  std::string key_file;
  // Override the name checked against the server certificate.
  std::string server_name_override;
};

absl::StatusOr<std::string> ReadFileToString(const std::string& path);

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsConfig& config);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsConfig& config);

}  // namespace kei
