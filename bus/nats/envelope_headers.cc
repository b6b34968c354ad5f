// CloudEvents binary mode over NATS headers; see envelope_headers.h for the
// mapping and the encoding of values NATS headers could not carry as is.
#include "bus/nats/envelope_headers.h"

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/codec/proto_time.h"

namespace kei::bus::nats {
namespace {

constexpr char kSpecVersion[] = "ce-specversion";
constexpr char kId[] = "ce-id";
constexpr char kSource[] = "ce-source";
constexpr char kType[] = "ce-type";
constexpr char kSubject[] = "ce-subject";
constexpr char kTime[] = "ce-time";
constexpr char kDataSchema[] = "ce-dataschema";
constexpr char kContentType[] = "content-type";
constexpr char kTraceparent[] = "traceparent";
constexpr char kTracestate[] = "tracestate";
constexpr char kProtoType[] = "kei-proto-type";
constexpr char kData[] = "kei-data";
constexpr char kBinary[] = "binary";
constexpr absl::string_view kExtensionPrefix = "ce-";
constexpr absl::string_view kEmptyValue = "\"\"";
// UTC with as many fraction digits as needed; parsed back with RFC3339_full.
constexpr char kTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E*SZ";

bool IsAttributeHeader(absl::string_view key) {
  for (absl::string_view attribute :
       {kSpecVersion, kId, kSource, kType, kSubject, kTime, kDataSchema}) {
    if (key == attribute) return true;
  }
  return false;
}

void AppendEscaped(unsigned char c, std::string* out) { absl::StrAppendFormat(out, "%%%02X", c); }

// Percent-encodes what a NATS header value (or, with `name`, key) cannot
// carry; see envelope_headers.h.
std::string Encode(absl::string_view text, bool name) {
  if (text.empty()) return std::string(kEmptyValue);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    bool edge = i == 0 || i + 1 == text.size();
    if (c == '%' || c == '"' || c < 0x20 || c >= 0x7F || (c == ' ' && (edge || name)) ||
        (name && c == ':')) {
      AppendEscaped(c, &out);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Decode(absl::string_view text) {
  if (text == kEmptyValue) return "";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int high = HexValue(text[i + 1]), low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string ExtensionKey(absl::string_view name) {
  std::string key = absl::StrCat(kExtensionPrefix, Encode(name, true));
  if (!IsAttributeHeader(key)) return key;
  // An extension named like an attribute: encoding its first character keeps
  // the header apart and still decodes to the name.
  key = std::string(kExtensionPrefix);
  AppendEscaped(name[0], &key);
  absl::StrAppend(&key, Encode(name.substr(1), true));
  return key;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FormatTime(kTimeFormat, TimeFromProto(t), absl::UTCTimeZone());
}

bool ParseTimestamp(absl::string_view text, google::protobuf::Timestamp* out) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return false;
  TimeToProto(time, out);
  return true;
}

}  // namespace

absl::StatusOr<NatsMsgPtr> EncodeEnvelope(const std::string& subject, const std::string& reply,
                                          const v1::Envelope& envelope) {
  const std::string& payload = envelope.has_proto_data() ? envelope.proto_data().value()
                                                         : envelope.binary_data();
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), reply.empty() ? nullptr : reply.c_str(),
                                payload.data(), static_cast<int>(payload.size()));
  if (s != NATS_OK) {
    return absl::InternalError(
        absl::StrCat("creating a NATS message for '", subject, "': ", natsStatus_GetText(s)));
  }
  NatsMsgPtr msg(raw);
  auto set = [&](const std::string& key, absl::string_view value) {
    if (s == NATS_OK) s = natsMsgHeader_Set(msg.get(), key.c_str(), Encode(value, false).c_str());
  };
  auto attribute = [&](const char* key, const std::string& value) {
    if (!value.empty()) set(key, value);
  };
  set(kSpecVersion, "1.0");
  attribute(kId, envelope.id());
  attribute(kSource, envelope.source());
  attribute(kType, envelope.type());
  attribute(kSubject, envelope.subject());
  if (envelope.has_time()) set(kTime, FormatTimestamp(envelope.time()));
  attribute(kDataSchema, envelope.dataschema());
  attribute(kContentType, envelope.datacontenttype());
  attribute(kTraceparent, envelope.traceparent());
  attribute(kTracestate, envelope.tracestate());
  if (envelope.has_proto_data()) set(kProtoType, envelope.proto_data().type_url());
  if (envelope.has_binary_data() && payload.empty()) set(kData, kBinary);
  for (const auto& [name, value] : envelope.extensions()) set(ExtensionKey(name), value);
  if (s != NATS_OK) {
    return absl::InternalError(
        absl::StrCat("setting NATS headers for '", subject, "': ", natsStatus_GetText(s)));
  }
  return msg;
}

v1::Envelope DecodeEnvelope(natsMsg* msg) {
  v1::Envelope envelope;
  std::string payload(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  const char** keys = nullptr;
  int count = 0;
  bool proto = false, binary = !payload.empty();
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* raw = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &raw) != NATS_OK || raw == nullptr) continue;
      absl::string_view key = keys[i];
      std::string value = Decode(raw);
      if (key == kId) {
        envelope.set_id(std::move(value));
      } else if (key == kSource) {
        envelope.set_source(std::move(value));
      } else if (key == kType) {
        envelope.set_type(std::move(value));
      } else if (key == kSubject) {
        envelope.set_subject(std::move(value));
      } else if (key == kTime) {
        if (!ParseTimestamp(value, envelope.mutable_time())) envelope.clear_time();
      } else if (key == kDataSchema) {
        envelope.set_dataschema(std::move(value));
      } else if (key == kContentType) {
        envelope.set_datacontenttype(std::move(value));
      } else if (key == kTraceparent) {
        envelope.set_traceparent(std::move(value));
      } else if (key == kTracestate) {
        envelope.set_tracestate(std::move(value));
      } else if (key == kProtoType) {
        envelope.mutable_proto_data()->set_type_url(std::move(value));
        proto = true;
      } else if (key == kData) {
        binary = binary || value == kBinary;
      } else if (key != kSpecVersion && absl::StartsWith(key, kExtensionPrefix)) {
        (*envelope.mutable_extensions())[Decode(key.substr(kExtensionPrefix.size()))] =
            std::move(value);
      }
    }
    free(static_cast<void*>(keys));
  }
  if (proto) {
    envelope.mutable_proto_data()->set_value(std::move(payload));
  } else if (binary) {
    envelope.set_binary_data(std::move(payload));
  }
  return envelope;
}

}  // namespace kei::bus::nats
