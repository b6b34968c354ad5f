// Protobuf binary wire format.
#pragma once

#include "absl/strings/string_view.h"
#include "cc/codec/codec.h"

namespace kei {

class ProtoCodec final : public Codec {
 public:
  absl::string_view name() const override { return "proto"; }
  absl::Status Marshal(const google::protobuf::Message& message,
                       std::string* out) const override;
  absl::Status Unmarshal(absl::string_view data,
                         google::protobuf::Message* message) const override;
};

}  // namespace kei
