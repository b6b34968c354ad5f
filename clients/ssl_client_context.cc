#include "clients/ssl_client_context.h"

#include "absl/strings/str_cat.h"

namespace kei {

absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeSslClientContext(
    const SslClientFiles& files) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (files.verify) {
    context->set_verify_mode(ssl::verify_peer, ec);
    if (!files.ca_file.empty()) {
      context->load_verify_file(files.ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load CA file '", files.ca_file, "': ", ec.message()));
      }
    } else {
      context->set_default_verify_paths(ec);
      if (ec) {
        return absl::InternalError(absl::StrCat("cannot load the system CA roots: ", ec.message()));
      }
    }
  } else {
    context->set_verify_mode(ssl::verify_none, ec);
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError("mutual TLS needs both a certificate and a key file");
  }
  if (!files.cert_file.empty()) {
    context->use_certificate_chain_file(files.cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load client certificate '", files.cert_file, "': ", ec.message()));
    }
    context->use_private_key_file(files.key_file, ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load client key '", files.key_file, "': ", ec.message()));
    }
  }
  return context;
}

}  // namespace kei
