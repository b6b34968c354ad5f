// A codec turns messages into bytes and back. Adapters pick one by content type;
// the kit ships proto binary and proto3 JSON (protobuf's own JSON mapping).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace kei {

class Codec {
 public:
  virtual ~Codec() = default;
  // Short name used in content types and Connect's `encoding` parameter:
  // "proto" or "json".
  virtual absl::string_view name() const = 0;
  virtual absl::Status Marshal(const google::protobuf::Message& message,
                               std::string* out) const = 0;
  // Replaces `message`'s contents. Malformed input is INVALID_ARGUMENT with a
  // message naming the offending field where the format allows.
  virtual absl::Status Unmarshal(absl::string_view data,
                                 google::protobuf::Message* message) const = 0;
};

}  // namespace kei
