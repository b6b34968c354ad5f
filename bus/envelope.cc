#include "bus/envelope.h"

#include <cstdint>

#include "absl/random/random.h"
#include "cc/codec/proto_time.h"

namespace kei::bus {

std::string NewUuid() {
  thread_local absl::BitGen random;
  uint64_t high = absl::Uniform<uint64_t>(random);
  uint64_t low = absl::Uniform<uint64_t>(random);
  high = (high & ~uint64_t{0xF000}) | 0x4000;                   // version 4
  low = (low & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // RFC 4122 variant
  // 8-4-4-4-12 hex digits; ids are made per message, so no formatting library.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) ++pos;
    uint64_t word = i < 16 ? high : low;
    out[pos++] = kHex[(word >> (60 - 4 * (i % 16))) & 0xF];
  }
  return out;
}

v1::Envelope ProtoEnvelope(const google::protobuf::Message& payload) {
  v1::Envelope envelope;
  envelope.mutable_proto_data()->PackFrom(payload);
  envelope.set_datacontenttype("application/protobuf");
  envelope.set_type(payload.GetDescriptor()->full_name());
  return envelope;
}

void FillEnvelopeDefaults(v1::Envelope& envelope, absl::Time now) {
  if (envelope.id().empty()) envelope.set_id(NewUuid());
  if (!envelope.has_time()) TimeToProto(now, envelope.mutable_time());
}

}  // namespace kei::bus
