#include "cc/status/code_names.h"

#include "absl/strings/string_view.h"
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kei {
namespace {

struct CodeEntry {
  absl::StatusCode code;
  absl::string_view upper;
  absl::string_view lower;
};

constexpr std::array<CodeEntry, 17> kCodes = {{
    {absl::StatusCode::kOk, "OK", "ok"},
    {absl::StatusCode::kCancelled, "CANCELLED", "canceled"},
    {absl::StatusCode::kUnknown, "UNKNOWN", "unknown"},
    {absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", "invalid_argument"},
    {absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED", "deadline_exceeded"},
    {absl::StatusCode::kNotFound, "NOT_FOUND", "not_found"},
    {absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS", "already_exists"},
    {absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED", "permission_denied"},
    {absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED", "resource_exhausted"},
    {absl::StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", "failed_precondition"},
    {absl::StatusCode::kAborted, "ABORTED", "aborted"},
    {absl::StatusCode::kOutOfRange, "OUT_OF_RANGE", "out_of_range"},
    {absl::StatusCode::kUnimplemented, "UNIMPLEMENTED", "unimplemented"},
    {absl::StatusCode::kInternal, "INTERNAL", "internal"},
    {absl::StatusCode::kUnavailable, "UNAVAILABLE", "unavailable"},
    {absl::StatusCode::kDataLoss, "DATA_LOSS", "data_loss"},
    {absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED", "unauthenticated"},
}};

const CodeEntry* Find(absl::StatusCode code) {
  for (const auto& e : kCodes) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

absl::string_view CodeName(absl::StatusCode code) {
  const CodeEntry* e = Find(code);
  return e ? e->upper : "UNKNOWN";
}

absl::string_view ConnectCodeName(absl::StatusCode code) {
  const CodeEntry* e = Find(code);
  return e ? e->lower : "unknown";
}

std::optional<absl::StatusCode> CodeFromName(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  if (lower == "cancelled") lower = "canceled";  // gRPC's spelling
  for (const auto& e : kCodes) {
    if (e.lower == lower) return e.code;
  }
  return std::nullopt;
}

std::string StatusToString(const absl::Status& status) {
  if (status.ok()) return "OK";
  return absl::StrCat(CodeName(status.code()), ": ", status.message());
}

}  // namespace kei
