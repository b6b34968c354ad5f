// Authentication for every protocol, as one interceptor: a bearer token
// ("authorization: Bearer <token>") or an API key header, checked against the
// configured credentials in constant time. Mutual TLS identities established by
// the transport can count as authentication too.
#pragma once

#include <map>
#include <set>
#include <string>

#include "cc/dispatch/interceptor.h"

namespace kei {

struct AuthOptions {
  // token -> subject it was issued to.
  std::map<std::string, std::string> bearer_tokens;
  // key -> subject.
  std::map<std::string, std::string> api_keys;
  // Header carrying API keys (lower-case).
  std::string api_key_header = "x-api-key";
  // A verified client certificate authenticates the caller by itself.
  bool accept_client_certificates = false;
  // Methods callable without credentials (canonical names).
  std::set<std::string> public_methods;

  // Auth is enforced when any credential is configured.
  bool enabled() const { return !bearer_tokens.empty() || !api_keys.empty(); }
};

class AuthInterceptor final : public Interceptor {
 public:
  explicit AuthInterceptor(AuthOptions options) : options_(std::move(options)) {}

  absl::Status OnCallStart(const MethodInfo& method, Context& context) override;

 private:
  AuthOptions options_;
};

}  // namespace kei
