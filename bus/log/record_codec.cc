#include "bus/log/record_codec.h"

#include <zlib.h>

#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace kei::bus::log_internal {
namespace {

char* StoreLE(char* p, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) *p++ = static_cast<char>(value >> (8 * i));
  return p;
}

uint64_t LoadLE(const char* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return value;
}

char* StoreBytes(char* p, absl::string_view bytes) {
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

// Consumes fixed-width fields and length-prefixed strings from a payload.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}

  bool Fixed(int bytes, uint64_t* value) {
    if (data_.size() < static_cast<size_t>(bytes)) return false;
    *value = LoadLE(data_.data(), bytes);
    data_.remove_prefix(bytes);
    return true;
  }
  bool Prefixed(int length_bytes, absl::string_view* value) {
    uint64_t length = 0;
    if (!Fixed(length_bytes, &length) || length > data_.size()) return false;
    *value = data_.substr(0, length);
    data_.remove_prefix(length);
    return true;
  }
  absl::string_view rest() const { return data_; }

 private:
  absl::string_view data_;
};

}  // namespace

std::string SegmentHeader() {
  std::string header(kSegmentMagic);
  header.resize(kSegmentHeaderSize);
  StoreLE(header.data() + kSegmentMagic.size(), kSegmentVersion, 4);
  return header;
}

absl::Status CheckSegmentHeader(absl::string_view header) {
  if (header.size() < kSegmentHeaderSize ||
      header.substr(0, kSegmentMagic.size()) != kSegmentMagic) {
    return absl::FailedPreconditionError(
        absl::StrCat("not a KEI bus log segment (no \"", kSegmentMagic, "\" header)"));
  }
  const uint64_t version = LoadLE(header.data() + kSegmentMagic.size(), 4);
  if (version != kSegmentVersion) {
    return absl::FailedPreconditionError(absl::StrCat("KEI bus log segment format version ",
                                                      version, " (this build reads ",
                                                      kSegmentVersion, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> AppendRecord(const Message& message, uint64_t sequence,
                                    int64_t publish_unix_nanos, std::string* out) {
  if (message.topic.size() > std::numeric_limits<uint16_t>::max()) {
    return absl::InvalidArgumentError("topic too long for the bus log");
  }
  const size_t envelope_size = message.envelope_size();
  const size_t payload_size =
      kMinPayloadSize + message.topic.size() + message.reply_to.size() + envelope_size;
  if (payload_size > kMaxPayloadSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", payload_size, " bytes is too large for the bus log"));
  }
  const size_t start = out->size();
  out->resize(start + kRecordFrameSize + payload_size);
  char* const payload = out->data() + start + kRecordFrameSize;
  char* p = StoreLE(payload, sequence, 8);
  p = StoreLE(p, static_cast<uint64_t>(publish_unix_nanos), 8);
  p = StoreLE(p, message.topic.size(), 2);
  p = StoreBytes(p, message.topic);
  p = StoreLE(p, message.reply_to.size(), 4);
  p = StoreBytes(p, message.reply_to);
  if (message.serialized()) {
    StoreBytes(p, message.envelope_bytes());
  } else {
    message.parsed()->SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p));
  }
  p = StoreLE(out->data() + start, payload_size, 4);
  StoreLE(p, PayloadCrc(absl::string_view(payload, payload_size)), 4);
  return envelope_size;
}

uint32_t PayloadCrc(absl::string_view payload) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

uint32_t LoadU32(const char* p) { return static_cast<uint32_t>(LoadLE(p, 4)); }

absl::StatusOr<RecordView> ParsePayload(absl::string_view payload) {
  Reader reader(payload);
  RecordView record;
  uint64_t nanos = 0;
  if (!reader.Fixed(8, &record.sequence) || !reader.Fixed(8, &nanos) ||
      !reader.Prefixed(2, &record.topic) || !reader.Prefixed(4, &record.reply_to)) {
    return absl::DataLossError("malformed bus log record");
  }
  record.publish_unix_nanos = static_cast<int64_t>(nanos);
  record.envelope = reader.rest();
  return record;
}

absl::StatusOr<RecordView> ParseRecord(absl::string_view record) {
  if (record.size() < kRecordFrameSize + kMinPayloadSize ||
      LoadU32(record.data()) != record.size() - kRecordFrameSize) {
    return absl::DataLossError("bus log record has a bad length");
  }
  const absl::string_view payload = record.substr(kRecordFrameSize);
  if (LoadU32(record.data() + 4) != PayloadCrc(payload)) {
    return absl::DataLossError("bus log record fails its CRC");
  }
  return ParsePayload(payload);
}

absl::StatusOr<MessagePtr> DecodeMessage(const RecordView& record) {
  auto message = NewMessage();
  if (!message->mutable_envelope().ParseFromArray(record.envelope.data(),
                                                  static_cast<int>(record.envelope.size()))) {
    return absl::DataLossError(
        absl::StrCat("bus log record ", record.sequence, " has an unparsable envelope"));
  }
  message->topic = std::string(record.topic);
  message->sequence = record.sequence;
  message->publish_time = absl::FromUnixNanos(record.publish_unix_nanos);
  message->reply_to = std::string(record.reply_to);
  return message;
}

}  // namespace kei::bus::log_internal
