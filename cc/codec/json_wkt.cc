#include "cc/codec/json_wkt.h"

#include <cstring>
#include <string>

namespace kei::json_internal {

Wkt ClassifyWkt(const google::protobuf::Descriptor* descriptor) {
  const std::string& name = descriptor->full_name();
  static constexpr char kPrefix[] = "google.protobuf.";
  constexpr size_t kPrefixLen = sizeof(kPrefix) - 1;
  if (name.size() <= kPrefixLen || std::memcmp(name.data(), kPrefix, kPrefixLen) != 0) {
    return Wkt::kNone;
  }
  const char* n = name.c_str() + kPrefixLen;
  struct Entry { const char* name; Wkt wkt; };
  static constexpr Entry kEntries[] = {
      {"Any", Wkt::kAny},           {"Timestamp", Wkt::kTimestamp},
      {"Duration", Wkt::kDuration}, {"FieldMask", Wkt::kFieldMask},
      {"Struct", Wkt::kStruct},     {"Value", Wkt::kValue},
      {"ListValue", Wkt::kListValue}, {"DoubleValue", Wkt::kDoubleValue},
      {"FloatValue", Wkt::kFloatValue}, {"Int64Value", Wkt::kInt64Value},
      {"UInt64Value", Wkt::kUInt64Value}, {"Int32Value", Wkt::kInt32Value},
      {"UInt32Value", Wkt::kUInt32Value}, {"BoolValue", Wkt::kBoolValue},
      {"StringValue", Wkt::kStringValue}, {"BytesValue", Wkt::kBytesValue},
  };
  for (const Entry& entry : kEntries) {
    if (std::strcmp(n, entry.name) == 0) return entry.wkt;
  }
  return Wkt::kNone;
}

bool IsNullValueEnum(const google::protobuf::EnumDescriptor* descriptor) {
  return descriptor->full_name() == "google.protobuf.NullValue";
}

// Howard Hinnant's civil calendar algorithms.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

}  // namespace kei::json_internal
