#include "bus/envelope.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace kei::bus {

std::string NewUuid() {
  thread_local absl::BitGen random;
  uint64_t high = absl::Uniform<uint64_t>(random);
  uint64_t low = absl::Uniform<uint64_t>(random);
  high = (high & ~uint64_t{0xF000}) | 0x4000;                             // version 4
  low = (low & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);            // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32, (high >> 16) & 0xFFFF,
                         high & 0xFFFF, low >> 48, low & 0xFFFFFFFFFFFF);
}

void FillEnvelopeDefaults(v1::Envelope& envelope, absl::Time now) {
  if (envelope.id().empty()) envelope.set_id(NewUuid());
  if (!envelope.has_time()) {
    int64_t nanos = absl::ToUnixNanos(now);
    envelope.mutable_time()->set_seconds(nanos / 1000000000);
    envelope.mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
}

}  // namespace kei::bus
