// The OpenSSL context every Beast-based client transport (HTTP, WebSocket)
// uses for TLS: TLS 1.2+, the peer verified against a CA file or the system
// roots unless verification is turned off, and an optional client
// certificate for mutual TLS. One place, so both protocols check servers the
// same way and report bad files with the same messages.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"

namespace kei {

struct SslClientFiles {
  bool verify = true;     // verify the server's certificate
  std::string ca_file;    // PEM CA bundle; empty means the system roots
  std::string cert_file;  // client certificate (mutual TLS), with key_file
  std::string key_file;
};

// INVALID_ARGUMENT for unreadable files or a certificate without its key.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeSslClientContext(
    const SslClientFiles& files);

}  // namespace kei
