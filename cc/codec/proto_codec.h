// Protobuf binary wire format.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
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
  // A new message of `prototype`'s type, parsed from `data`.
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> UnmarshalNew(
      const google::protobuf::Message& prototype, absl::string_view data) const;
};

}  // namespace kei
