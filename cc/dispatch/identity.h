// Who is calling, as established by the auth interceptor (or by the TLS layer
// for mutual TLS). Handlers read it from kei::Context.
#pragma once

#include <map>
#include <string>

namespace kei {

struct Identity {
  // How the caller proved who it is: "bearer", "api_key", "mtls", or empty
  // when the call is anonymous.
  std::string scheme;
  // The authenticated principal, e.g. the name a token was issued to, or the
  // client certificate's common name.
  std::string subject;
  // Extra facts about the caller (e.g. "x509_subject").
  std::map<std::string, std::string> attributes;

  bool authenticated() const { return !scheme.empty(); }
};

}  // namespace kei
