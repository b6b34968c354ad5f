// Which well-known types proto3 JSON maps specially, shared by the JSON writer
// and reader (json_writer.cc, json_reader.cc). Classified by full name, as
// protobuf's own JSON mapping does, so that messages from dynamic descriptor
// pools behave like generated ones.
#pragma once

#include "google/protobuf/descriptor.h"

namespace kei::json_internal {

enum class Wkt {
  kNone,
  kAny,
  kTimestamp,
  kDuration,
  kFieldMask,
  kStruct,
  kValue,
  kListValue,
  kDoubleValue,
  kFloatValue,
  kInt64Value,
  kUInt64Value,
  kInt32Value,
  kUInt32Value,
  kBoolValue,
  kStringValue,
  kBytesValue,
};

Wkt ClassifyWkt(const google::protobuf::Descriptor* descriptor);

inline bool IsWrapper(Wkt wkt) { return wkt >= Wkt::kDoubleValue; }

// google.protobuf.NullValue: written as JSON null.
bool IsNullValueEnum(const google::protobuf::EnumDescriptor* descriptor);

// Timestamp and Duration limits (0001-01-01 .. 9999-12-31, +-10000 years).
inline constexpr int64_t kTimestampMinSeconds = -62135596800LL;
inline constexpr int64_t kTimestampMaxSeconds = 253402300799LL;
inline constexpr int64_t kDurationMaxSeconds = 315576000000LL;

// Days since 1970-01-01 <-> civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d);

}  // namespace kei::json_internal
