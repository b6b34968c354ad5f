#include "bus/delivery_writer.h"

#include <cstdint>
#include <cstring>

#include "cc/codec/proto_time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/timestamp.pb.h"

namespace kei::bus {
namespace {

// Field numbers: SubscribeResponse.deliveries and Delivery's fields
// (proto/kei/bus/v1/bus.proto).
constexpr uint32_t kDeliveries = 3;
constexpr uint32_t kTopic = 1, kSequence = 2, kEnvelope = 3, kAckId = 4, kAttempt = 5,
                   kReplyTo = 6, kPublishTime = 7;
constexpr uint32_t kVarintType = 0, kLengthDelimitedType = 2;

using google::protobuf::io::CodedOutputStream;

size_t VarintSize(uint64_t value) { return CodedOutputStream::VarintSize64(value); }

char* PutVarint(uint64_t value, char* p) {
  return reinterpret_cast<char*>(
      CodedOutputStream::WriteVarint64ToArray(value, reinterpret_cast<uint8_t*>(p)));
}

// Sizes and writers of proto3 fields; empty strings and zeros are left out,
// as generated serializers do. Tags here are all one byte.
size_t BytesSize(absl::string_view value) { return 1 + VarintSize(value.size()) + value.size(); }
size_t StringSize(absl::string_view value) { return value.empty() ? 0 : BytesSize(value); }
size_t UintSize(uint64_t value) { return value == 0 ? 0 : 1 + VarintSize(value); }

char* PutBytes(uint32_t number, absl::string_view value, char* p) {
  *p++ = static_cast<char>(number << 3 | kLengthDelimitedType);
  p = PutVarint(value.size(), p);
  std::memcpy(p, value.data(), value.size());
  return p + value.size();
}
char* PutString(uint32_t number, absl::string_view value, char* p) {
  return value.empty() ? p : PutBytes(number, value, p);
}
char* PutUint(uint32_t number, uint64_t value, char* p) {
  if (value == 0) return p;
  *p++ = static_cast<char>(number << 3 | kVarintType);
  return PutVarint(value, p);
}

}  // namespace

size_t AppendDelivery(const Delivery& delivery, std::string* response) {
  const Message& m = *delivery.message;
  std::string parsed_bytes;  // a parsed envelope, serialized here
  absl::string_view envelope;
  if (m.serialized()) {
    envelope = m.envelope_bytes();
  } else {
    m.parsed()->SerializeToString(&parsed_bytes);
    envelope = parsed_bytes;
  }
  google::protobuf::Timestamp publish_time;
  TimeToProto(m.publish_time, &publish_time);
  const std::string time = publish_time.SerializeAsString();

  const size_t delivery_size = StringSize(m.topic) + UintSize(m.sequence) + BytesSize(envelope) +
                               StringSize(delivery.ack_id) + UintSize(delivery.attempt) +
                               StringSize(m.reply_to) + BytesSize(time);
  const size_t start = response->size();
  const size_t total = 1 + VarintSize(delivery_size) + delivery_size;
  response->resize(start + total);
  char* p = response->data() + start;
  *p++ = static_cast<char>(kDeliveries << 3 | kLengthDelimitedType);
  p = PutVarint(delivery_size, p);
  p = PutString(kTopic, m.topic, p);
  p = PutUint(kSequence, m.sequence, p);
  p = PutBytes(kEnvelope, envelope, p);
  p = PutString(kAckId, delivery.ack_id, p);
  p = PutUint(kAttempt, delivery.attempt, p);
  p = PutString(kReplyTo, m.reply_to, p);
  PutBytes(kPublishTime, time, p);
  return total;
}

}  // namespace kei::bus
