// Canonical status code names, the one vocabulary every protocol mapping shares:
// "INVALID_ARGUMENT" (gRPC and keictl style) and "invalid_argument" (Connect style).
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kei {

// "INVALID_ARGUMENT" for absl::StatusCode::kInvalidArgument.
absl::string_view CodeName(absl::StatusCode code);

// "invalid_argument", the spelling the Connect protocol uses on the wire.
absl::string_view ConnectCodeName(absl::StatusCode code);

// Parses either spelling (case-insensitive); nullopt for an unknown name.
std::optional<absl::StatusCode> CodeFromName(absl::string_view name);

// "INVALID_ARGUMENT: objective: must not be empty" — the form tools print.
std::string StatusToString(const absl::Status& status);

}  // namespace kei
