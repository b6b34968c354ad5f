// Messages that own their envelope (bus/backend.h): the message and the
// envelope in one allocation.
#include <memory>

#include "bus/backend.h"

namespace kei::bus {
namespace {

// The envelope first: it is constructed before the message points at it.
struct OwningMessage {
  v1::Envelope envelope;
  Message message{&envelope};
};

}  // namespace

std::shared_ptr<Message> NewMessage() {
  auto owner = std::make_shared<OwningMessage>();
  return std::shared_ptr<Message>(owner, &owner->message);
}

std::shared_ptr<Message> CopyMessage(const Message& message) {
  std::shared_ptr<Message> copy = NewMessage();
  copy->topic = message.topic;
  copy->sequence = message.sequence;
  copy->publish_time = message.publish_time;
  copy->reply_to = message.reply_to;
  copy->mutable_envelope() = message.envelope();
  return copy;
}

}  // namespace kei::bus
