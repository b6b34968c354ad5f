// Call metadata: gRPC metadata, HTTP headers and WebSocket handshake headers
// all become this. Keys are lower-case, values kept in arrival order.
#pragma once

#include <map>
#include <optional>
#include <string>
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

}  // namespace kei
