// The Connect protocol's wire pieces, shared by the HTTP server adapter and the
// HTTP client transport: content types, the streaming envelope, the JSON error
// body, the end-of-stream message and the timeout header
// (https://connectrpc.com/docs/protocol).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/dispatch/metadata.h"

namespace kei::connect {

inline constexpr char kProtocolVersionHeader[] = "connect-protocol-version";
inline constexpr char kTimeoutHeader[] = "connect-timeout-ms";

// Envelope flags.
inline constexpr uint8_t kFlagCompressed = 0x01;
inline constexpr uint8_t kFlagEndStream = 0x02;

// The codec named by a Content-Type: unary "application/json" ->
// {"json", false}, streaming "application/connect+proto" -> {"proto", true}.
// Parameters such as "; charset=utf-8" are ignored. nullopt if neither form.
struct ContentType {
  std::string codec;
  bool streaming = false;
};
std::optional<ContentType> ParseContentType(absl::string_view header);
std::string UnaryContentType(absl::string_view codec);      // application/<codec>
std::string StreamingContentType(absl::string_view codec);  // application/connect+<codec>

// Connect-Timeout-Ms: at most 10 digits. INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view header);

// One envelope: flags, 4-byte big-endian length, payload.
void AppendEnvelope(uint8_t flags, absl::string_view payload, std::string* out);

// Reads envelopes from a buffer. Next() returns false when the buffer is
// exhausted; a truncated or oversized envelope is an INVALID_ARGUMENT /
// RESOURCE_EXHAUSTED error.
class EnvelopeReader {
 public:
  EnvelopeReader(absl::string_view data, size_t max_message_bytes)
      : data_(data), max_(max_message_bytes) {}
  struct Envelope {
    uint8_t flags = 0;
    absl::string_view payload;
  };
  // True with *out filled; false at the clean end of data or on error (see status()).
  bool Next(Envelope* out);
  const absl::Status& status() const { return status_; }
  // Bytes not yet consumed (an incomplete envelope at the end of a partial buffer).
  size_t consumed() const { return pos_; }

 private:
  absl::string_view data_;
  size_t max_;
  size_t pos_ = 0;
  absl::Status status_;
};

// {"code":"invalid_argument","message":"..."}; the body of unary errors.
std::string ErrorJson(const absl::Status& status);
// The end-of-stream message: {"error":{...},"metadata":{"k":["v"]}}; no
// "error" key when the stream succeeded.
std::string EndStreamJson(const absl::Status& status, const Metadata& trailers);

// Parses an error body. When `body` is not a Connect error, the code comes from
// the HTTP status (Connect's HTTP-to-code table) and the message from the body.
absl::Status ParseErrorBody(int http_status, absl::string_view body);
// Parses an end-of-stream message into its status (OK without "error") and
// trailers.
absl::Status ParseEndStream(absl::string_view json, Metadata* trailers);

}  // namespace kei::connect
