// The FileLog's on-disk format in one place: the segment header and the
// record framing [u32 payload length][u32 CRC-32 of payload][payload], all
// little endian, with payload = u64 sequence, i64 publish time (unix nanos),
// u16 topic length + topic, u32 reply_to length + reply_to, serialized
// Envelope.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bus/backend.h"

namespace kei::bus::log_internal {

// "KEIBUSL1" then u32 format version.
inline constexpr absl::string_view kSegmentMagic = "KEIBUSL1";
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 12;
inline constexpr size_t kRecordFrameSize = 8;             // length + CRC
inline constexpr size_t kMinPayloadSize = 8 + 8 + 2 + 4;  // empty topic, reply_to, envelope
// So that a framed record's size fits a u32.
inline constexpr size_t kMaxPayloadSize = 0xFFFFFFFF - kRecordFrameSize;

std::string SegmentHeader();
// OK for a valid header; FAILED_PRECONDITION naming what is wrong otherwise.
absl::Status CheckSegmentHeader(absl::string_view header);

// A record's payload fields, viewing the buffer they were parsed from.
struct RecordView {
  uint64_t sequence = 0;
  int64_t publish_unix_nanos = 0;
  absl::string_view topic;
  absl::string_view reply_to;
  absl::string_view envelope;  // serialized v1::Envelope
};

// Appends one framed record of `message` (its envelope serialized as it
// goes) to `out`, with the given sequence and time, and returns the
// serialized envelope's size. INVALID_ARGUMENT when a field is too large for
// the format.
absl::StatusOr<size_t> AppendRecord(const Message& message, uint64_t sequence,
                                    int64_t publish_unix_nanos, std::string* out);

uint32_t PayloadCrc(absl::string_view payload);
// The little-endian u32 at `p`.
uint32_t LoadU32(const char* p);

// Parses an (already CRC-checked) payload; DATA_LOSS when malformed.
absl::StatusOr<RecordView> ParsePayload(absl::string_view payload);

// Checks a whole framed record (length and CRC) and parses its payload;
// DATA_LOSS when anything is off.
absl::StatusOr<RecordView> ParseRecord(absl::string_view record);

// A Message from a parsed record; DATA_LOSS when the envelope does not parse.
absl::StatusOr<MessagePtr> DecodeMessage(const RecordView& record);

}  // namespace kei::bus::log_internal
