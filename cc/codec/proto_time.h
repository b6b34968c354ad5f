// absl::Time and absl::Duration to and from google.protobuf.Timestamp and
// Duration, in one place: the kit stamps frames, envelopes, deliveries and
// events with times and reads durations from requests. A Timestamp's nanos
// stay in [0, 1e9) for times before 1970 too (seconds round down), and times
// outside a Timestamp's range (years 1-9999, e.g. absl's infinite times) are
// clamped to it.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace kei {

inline void TimeToProto(absl::Time time, google::protobuf::Timestamp* out) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (time < absl::FromUnixSeconds(kMinSeconds)) {
    out->set_seconds(kMinSeconds);
    out->set_nanos(0);
    return;
  }
  if (time >= absl::FromUnixSeconds(kMaxSeconds + 1)) {
    out->set_seconds(kMaxSeconds);
    out->set_nanos(999999999);
    return;
  }
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds down
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

inline absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline void DurationToProto(absl::Duration duration, google::protobuf::Duration* out) {
  absl::Duration rest;
  out->set_seconds(absl::IDivDuration(duration, absl::Seconds(1), &rest));  // toward zero
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
}

inline absl::Duration DurationFromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace kei
