#include "bus/wire_scan.h"

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cc/codec/proto_time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/timestamp.pb.h"

namespace kei::bus {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A forward-only reader over serialized protobuf. Not CodedInputStream: it
// reads a 32-bit varint (a tag, a length) in up to ten bytes, where the parser
// stops at five, and the scan must refuse what the parser refuses.
class WireReader {
 public:
  explicit WireReader(absl::string_view bytes) : p_(bytes.data()), end_(p_ + bytes.size()) {}
  bool done() const { return p_ == end_; }

  // A varint of at most `max_bytes` bytes (ten for values; protobuf reads
  // tags and lengths in at most five).
  bool Varint(uint64_t* out, int max_bytes = 10) {
    uint64_t value = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (p_ == end_) return false;
      const uint8_t byte = static_cast<uint8_t>(*p_++);
      value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        *out = value;
        return true;
      }
    }
    return false;
  }
  // The next field's number and wire type.
  bool Tag(uint32_t* number, uint32_t* wire_type) {
    uint64_t tag = 0;
    if (!Varint(&tag, 5) || tag > UINT32_MAX || (tag >> 3) == 0) return false;
    *number = static_cast<uint32_t>(tag >> 3);
    *wire_type = static_cast<uint32_t>(tag & 7);
    return true;
  }
  // Protobuf refuses lengths of 2 GiB and more.
  bool LengthDelimited(absl::string_view* out) {
    uint64_t size = 0;
    if (!Varint(&size, 5) || size > INT32_MAX || size > static_cast<uint64_t>(end_ - p_)) {
      return false;
    }
    *out = absl::string_view(p_, static_cast<size_t>(size));
    p_ += size;
    return true;
  }
  // Skips a field's value. Groups (deprecated) are refused.
  bool Skip(uint32_t wire_type) {
    uint64_t ignored = 0;
    absl::string_view bytes;
    switch (wire_type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return LengthDelimited(&bytes);
      case kFixed32:
        return Advance(4);
      default:
        return false;
    }
  }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const char* p_;
  const char* end_;
};

bool IsUtf8(absl::string_view s) {
  return google::protobuf::internal::IsStructurallyValidUTF8(s.data(), static_cast<int>(s.size()));
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed ", what));
}

// A message whose fields are all strings (given as a bit set of field
// numbers below 32) or skippable: Any's type_url and a map<string, string>
// entry. Other numbers are skipped like a parser's unknown fields.
bool ScanStrings(absl::string_view bytes, uint32_t string_fields) {
  WireReader reader(bytes);
  while (!reader.done()) {
    uint32_t number = 0, wire_type = 0;
    if (!reader.Tag(&number, &wire_type)) return false;
    if (wire_type == kLengthDelimited && number < 32 && (string_fields >> number & 1) != 0) {
      absl::string_view value;
      if (!reader.LengthDelimited(&value) || !IsUtf8(value)) return false;
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

// Envelope field numbers (proto/kei/bus/v1/bus.proto).
constexpr uint32_t kId = 1, kTime = 5, kProtoData = 10, kBinaryData = 11, kExtensions = 12;
constexpr uint32_t kEnvelopeStrings = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 6 |
                                      1u << 7 | 1u << 8 | 1u << 9;

void AppendVarint(uint64_t value, std::string* out) {
  uint8_t buffer[10];
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, buffer);
  out->append(reinterpret_cast<const char*>(buffer), end - buffer);
}

void AppendLengthDelimited(uint32_t number, absl::string_view value, std::string* out) {
  AppendVarint(number << 3 | kLengthDelimited, out);
  AppendVarint(value.size(), out);
  out->append(value.data(), value.size());
}

}  // namespace

absl::StatusOr<SplitBatch> SplitPublishBatch(absl::string_view batch, size_t max_messages) {
  SplitBatch out;
  WireReader reader(batch);
  while (!reader.done()) {
    uint32_t number = 0, wire_type = 0;
    if (!reader.Tag(&number, &wire_type)) return Malformed("publish batch");
    if (number != 1 || wire_type != kLengthDelimited) {  // not `messages`
      if (!reader.Skip(wire_type)) return Malformed("publish batch");
      continue;
    }
    if (out.messages.size() == max_messages) {
      return absl::InvalidArgumentError(
          absl::StrCat("a batch holds at most ", max_messages, " messages"));
    }
    absl::string_view request;
    if (!reader.LengthDelimited(&request)) return Malformed("publish batch");
    // PublishRequest: topic = 1, envelope = 2.
    PublishSlice slice;
    int pieces = 0;
    std::string merged;
    WireReader fields(request);
    while (!fields.done()) {
      uint32_t field = 0, type = 0;
      if (!fields.Tag(&field, &type)) return Malformed("publish request");
      absl::string_view value;
      if (type == kLengthDelimited && (field == 1 || field == 2)) {
        if (!fields.LengthDelimited(&value)) return Malformed("publish request");
        if (field == 1) {
          if (!IsUtf8(value)) return Malformed("publish request: the topic is not UTF-8");
          slice.topic = value;
        } else {
          // A message field given more than once is the merge of its
          // pieces: their concatenation. A parser reads each piece on its
          // own, so each must parse.
          if (++pieces == 2) {
            if (!ScanEnvelope(slice.envelope).ok()) return Malformed("envelope piece");
            merged.assign(slice.envelope.data(), slice.envelope.size());
          }
          if (pieces >= 2) {
            if (!ScanEnvelope(value).ok()) return Malformed("envelope piece");
            merged.append(value.data(), value.size());
          }
          slice.envelope = value;
        }
      } else if (!fields.Skip(type)) {
        return Malformed("publish request");
      }
    }
    if (pieces >= 2) {
      out.merged.push_back(std::move(merged));
      slice.envelope = out.merged.back();
    }
    out.messages.push_back(slice);
  }
  return out;
}

absl::StatusOr<EnvelopeScan> ScanEnvelope(absl::string_view envelope) {
  EnvelopeScan scan;
  WireReader reader(envelope);
  while (!reader.done()) {
    uint32_t number = 0, wire_type = 0;
    if (!reader.Tag(&number, &wire_type)) return Malformed("envelope");
    if (wire_type != kLengthDelimited || number == kBinaryData || number > kExtensions) {
      // Binary data, or a field a parser keeps as unknown.
      if (!reader.Skip(wire_type)) return Malformed("envelope");
      continue;
    }
    absl::string_view value;
    if (!reader.LengthDelimited(&value)) return Malformed("envelope");
    bool ok = true;
    if ((kEnvelopeStrings >> number & 1) != 0) {
      ok = IsUtf8(value);
      if (number == kId) scan.id = value;
    } else if (number == kTime) {
      ok = ScanStrings(value, 0);  // Timestamp: two varints
      scan.has_time = true;
    } else if (number == kProtoData) {
      ok = ScanStrings(value, 1u << 1);  // Any: type_url = 1, value = 2 (bytes)
    } else if (number == kExtensions) {
      ok = ScanStrings(value, 1u << 1 | 1u << 2);  // map entry: key = 1, value = 2
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed envelope: field ", number, " is not a valid value"));
    }
  }
  return scan;
}

size_t AppendEnvelopeDefaults(absl::string_view id, absl::Time time, std::string* envelope) {
  size_t id_offset = 0;
  if (!id.empty()) {
    AppendVarint(kId << 3 | kLengthDelimited, envelope);
    AppendVarint(id.size(), envelope);
    id_offset = envelope->size();
    envelope->append(id.data(), id.size());
  }
  if (time != absl::InfiniteFuture()) {
    google::protobuf::Timestamp timestamp;
    TimeToProto(time, &timestamp);
    AppendLengthDelimited(kTime, timestamp.SerializeAsString(), envelope);
  }
  return id_offset;
}

}  // namespace kei::bus
