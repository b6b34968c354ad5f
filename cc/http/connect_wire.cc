#include "cc/http/connect_wire.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cc/status/code_names.h"
#include "cc/status/http_mapping.h"

namespace kei::connect {

using nlohmann::json;

std::optional<ContentType> ParseContentType(absl::string_view header) {
  absl::string_view type = header.substr(0, header.find(';'));
  type = absl::StripAsciiWhitespace(type);
  std::string lower = absl::AsciiStrToLower(type);
  absl::string_view rest = lower;
  if (!absl::ConsumePrefix(&rest, "application/")) return std::nullopt;
  ContentType out;
  if (absl::ConsumePrefix(&rest, "connect+")) out.streaming = true;
  if (rest.empty()) return std::nullopt;
  out.codec = std::string(rest);
  return out;
}

std::string UnaryContentType(absl::string_view codec) {
  return absl::StrCat("application/", codec);
}

std::string StreamingContentType(absl::string_view codec) {
  return absl::StrCat("application/connect+", codec);
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  int64_t ms = 0;
  if (header.empty() || header.size() > 10 ||
      !std::all_of(header.begin(), header.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(header, &ms)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connect-timeout-ms: '", header.substr(0, 32), "' is not 1 to 10 digits"));
  }
  return absl::Milliseconds(ms);
}

void AppendEnvelope(uint8_t flags, absl::string_view payload, std::string* out) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  char header[5] = {static_cast<char>(flags), static_cast<char>(n >> 24),
                    static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                    static_cast<char>(n)};
  out->append(header, 5);
  out->append(payload.data(), payload.size());
}

bool EnvelopeReader::Next(Envelope* out) {
  if (!status_.ok() || pos_ == data_.size()) return false;
  if (data_.size() - pos_ < 5) {
    status_ = absl::InvalidArgumentError("truncated envelope header");
    return false;
  }
  auto byte = [&](size_t i) { return static_cast<uint8_t>(data_[pos_ + i]); };
  uint32_t n = (uint32_t{byte(1)} << 24) | (uint32_t{byte(2)} << 16) |
               (uint32_t{byte(3)} << 8) | uint32_t{byte(4)};
  if (n > max_) {
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("message of ", n, " bytes exceeds the limit of ", max_));
    return false;
  }
  if (data_.size() - pos_ - 5 < n) {
    status_ = absl::InvalidArgumentError("truncated envelope");
    return false;
  }
  out->flags = byte(0);
  out->payload = data_.substr(pos_ + 5, n);
  pos_ += 5 + n;
  return true;
}

namespace {

json ErrorObject(const absl::Status& status) {
  json error = {{"code", std::string(ConnectCodeName(status.code()))}};
  if (!status.message().empty()) error["message"] = std::string(status.message());
  return error;
}

absl::Status StatusFromErrorObject(const json& error, int http_status) {
  absl::StatusCode code = CodeFromHttpStatus(http_status);
  if (error.contains("code") && error["code"].is_string()) {
    if (auto parsed = CodeFromName(error["code"].get<std::string>())) code = *parsed;
    else code = absl::StatusCode::kUnknown;
  }
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  std::string message;
  if (error.contains("message") && error["message"].is_string()) {
    message = error["message"].get<std::string>();
  }
  return absl::Status(code, message);
}

}  // namespace

std::string ErrorJson(const absl::Status& status) { return ErrorObject(status).dump(); }

std::string EndStreamJson(const absl::Status& status, const Metadata& trailers) {
  json end = json::object();
  if (!status.ok()) end["error"] = ErrorObject(status);
  if (!trailers.empty()) {
    json metadata = json::object();
    for (const auto& [key, value] : trailers) metadata[key].push_back(value);
    end["metadata"] = metadata;
  }
  return end.dump();
}

absl::Status ParseErrorBody(int http_status, absl::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("code")) {
    return StatusFromErrorObject(doc, http_status);
  }
  absl::StatusCode code = CodeFromHttpStatus(http_status);
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  return absl::Status(code, absl::StrCat("HTTP ", http_status, ": ",
                                         body.substr(0, std::min<size_t>(body.size(), 512))));
}

absl::Status ParseEndStream(absl::string_view text, Metadata* trailers) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InternalError("malformed end-of-stream message");
  }
  if (trailers != nullptr && doc.contains("metadata") && doc["metadata"].is_object()) {
    for (const auto& [key, values] : doc["metadata"].items()) {
      if (!values.is_array()) continue;
      for (const auto& v : values) {
        if (v.is_string()) trailers->emplace(absl::AsciiStrToLower(key), v.get<std::string>());
      }
    }
  }
  if (doc.contains("error") && doc["error"].is_object()) {
    return StatusFromErrorObject(doc["error"], 500);
  }
  return absl::OkStatus();
}

}  // namespace kei::connect
