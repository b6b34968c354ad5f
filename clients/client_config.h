// What every client transport is configured with: credentials, TLS, retry and
// deadline defaults, limits. One struct, so switching protocol never means
// re-learning configuration.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"
#include "cc/retry/retry_policy.h"
#include "cc/security/tls_config.h"

namespace kei {

struct ClientConfig {
  // Sent as "authorization: Bearer <token>" on every call.
  std::string bearer_token;
  // Sent as "<api_key_header>: <key>" on every call.
  std::string api_key;
  std::string api_key_header = "x-api-key";
  // Extra metadata for every call.
  Metadata metadata;
  // TLS settings; turned on by secure schemes (grpcs://, https://, wss://).
  ClientTlsConfig tls;
  RetryPolicy retry;
  // Deadline for calls that set none; InfiniteDuration for none.
  absl::Duration default_timeout = absl::Seconds(30);
  int max_message_bytes = 4 * 1024 * 1024;
  // HTTP/2 keepalive pings on idle connections.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
};

}  // namespace kei
