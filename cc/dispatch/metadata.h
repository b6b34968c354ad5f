// Call metadata: gRPC metadata, HTTP headers and WebSocket handshake headers
// all become this. Keys are lower-case, values kept in arrival order.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace kei {

using Metadata = std::multimap<std::string, std::string, std::less<>>;

// The first value for `key` (lower-case), if any.
inline std::optional<absl::string_view> FirstValue(const Metadata& metadata,
                                                  absl::string_view key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second);
}

// Whether `key` may be sent as gRPC / HTTP/2 metadata: non-empty, lower-case
// letters, digits, '-', '_' and '.'. gRPC aborts the process on anything else,
// so every transport checks before handing metadata over.
inline bool IsValidMetadataKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) return false;
  }
  return true;
}

// Whether `value` may be sent under `key`: anything for binary ("-bin") keys,
// printable ASCII (0x20-0x7e) otherwise.
inline bool IsValidMetadataValue(absl::string_view key, absl::string_view value) {
  if (absl::EndsWith(key, "-bin")) return true;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace kei
