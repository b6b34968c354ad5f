// Messages and their envelopes (bus/backend.h): parsed envelopes in the same
// allocation as their message, serialized ones parsed only when asked for.
#include <cassert>
#include <memory>

#include "bus/backend.h"

namespace kei::bus {
namespace {

// The envelope first: it is constructed before the message points at it.
struct OwningMessage {
  v1::Envelope envelope;
  Message message{&envelope};
};

// The bytes first, for the same reason.
struct OwningSerializedMessage {
  OwningSerializedMessage(std::string envelope_bytes, size_t id_offset, size_t id_size)
      : bytes(std::move(envelope_bytes)),
        message(bytes, absl::string_view(bytes).substr(id_offset, id_size)) {}
  std::string bytes;
  Message message;
};

}  // namespace

v1::Envelope Message::envelope() const {
  if (!serialized()) return *envelope_;
  v1::Envelope envelope;
  // Checked when the message was made (ScanEnvelope), so it parses.
  envelope.ParseFromArray(bytes_.data(), static_cast<int>(bytes_.size()));
  return envelope;
}

v1::Envelope& Message::mutable_envelope() {
  assert(!serialized());
  return *envelope_;
}

std::shared_ptr<Message> NewMessage() {
  auto owner = std::make_shared<OwningMessage>();
  return std::shared_ptr<Message>(owner, &owner->message);
}

std::shared_ptr<Message> NewSerializedMessage(std::string envelope_bytes, size_t id_offset,
                                              size_t id_size) {
  auto owner =
      std::make_shared<OwningSerializedMessage>(std::move(envelope_bytes), id_offset, id_size);
  return std::shared_ptr<Message>(owner, &owner->message);
}

std::shared_ptr<Message> CopyMessage(const Message& message) {
  std::shared_ptr<Message> copy;
  if (message.serialized()) {
    absl::string_view bytes = message.envelope_bytes();
    absl::string_view id = message.id();
    copy = NewSerializedMessage(std::string(bytes), id.empty() ? 0 : id.data() - bytes.data(),
                                id.size());
  } else {
    copy = NewMessage();
    copy->mutable_envelope() = *message.parsed();
  }
  copy->topic = message.topic;
  copy->sequence = message.sequence;
  copy->publish_time = message.publish_time;
  copy->reply_to = message.reply_to;
  return copy;
}

}  // namespace kei::bus
