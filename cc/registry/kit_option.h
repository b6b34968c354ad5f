// Reads one of the kit's message-typed options (kei.v1.http, kei.v1.mcp) off
// a descriptor's options through reflection, so adapters need no generated
// code and methods from descriptor sets loaded at run time work as well as
// compiled-in ones: the extension when it is known to the options' pool, or
// else its bytes (still on the wire as an unknown field) parsed with the
// option's type from the method's own pool.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace kei {

// The option's value (an owned copy), nullptr when the option is not set;
// INVALID_ARGUMENT when it is set but its type is unknown or its bytes do not
// parse. `pool` is where the option's type is looked up after the generated
// pool.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> FindKitOption(
    const google::protobuf::Message& options, const google::protobuf::DescriptorPool* pool,
    absl::string_view extension_name, int extension_number, absl::string_view type_name);

}  // namespace kei
