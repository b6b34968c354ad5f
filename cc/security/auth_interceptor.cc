#include "cc/security/auth_interceptor.h"

#include "absl/strings/string_view.h"
#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kei {
namespace {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The subject for `presented`, comparing against every credential so the time
// taken does not reveal which one nearly matched.
const std::string* Lookup(const std::map<std::string, std::string>& credentials,
                          absl::string_view presented) {
  const std::string* found = nullptr;
  for (const auto& [secret, subject] : credentials) {
    if (ConstantTimeEquals(secret, presented)) found = &subject;
  }
  return found;
}

}  // namespace

absl::Status AuthInterceptor::OnCallStart(const MethodInfo& method, Context& context) {
  const Identity& transport = context.transport_identity();
  if (transport.authenticated()) context.set_identity(transport);
  if (!options_.enabled() || options_.public_methods.count(method.full_name) > 0) {
    return absl::OkStatus();
  }
  if (options_.accept_client_certificates && transport.authenticated()) {
    return absl::OkStatus();
  }

  if (auto header = FirstValue(context.metadata(), "authorization")) {
    absl::string_view value = absl::StripAsciiWhitespace(*header);
    if (value.size() < 7 || !absl::StartsWithIgnoreCase(value, "bearer ")) {
      return absl::UnauthenticatedError(
          "authorization header must be 'Bearer <token>'");
    }
    absl::string_view token = absl::StripAsciiWhitespace(value.substr(7));
    const std::string* subject = Lookup(options_.bearer_tokens, token);
    if (subject == nullptr) return absl::UnauthenticatedError("invalid bearer token");
    context.set_identity(Identity{"bearer", *subject, {}});
    return absl::OkStatus();
  }
  if (auto key = FirstValue(context.metadata(), options_.api_key_header)) {
    const std::string* subject = Lookup(options_.api_keys, absl::StripAsciiWhitespace(*key));
    if (subject == nullptr) return absl::UnauthenticatedError("invalid API key");
    context.set_identity(Identity{"api_key", *subject, {}});
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "missing credentials: send 'authorization: Bearer <token>' or '",
      options_.api_key_header, ": <key>'"));
}

}  // namespace kei
