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
  // 8-4-4-4-12 hex digits; ids are made per message, so no formatting library,
  // and fixed-length runs the compiler unrolls.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  auto put = [&out](size_t at, uint64_t bits, size_t digits) {
    for (size_t i = digits; i-- > 0; bits >>= 4) out[at + i] = kHex[bits & 0xF];
  };
  put(0, high >> 32, 8);
  put(9, high >> 16, 4);
  put(14, high, 4);
  put(19, low >> 48, 4);
  put(24, low, 12);
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
