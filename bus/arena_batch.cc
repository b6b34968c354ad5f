#include "bus/arena_batch.h"

#include "google/protobuf/arena.h"

namespace kei::bus {

ArenaBatch NewArenaBatch() {
  auto arena = std::make_shared<google::protobuf::Arena>();
  auto* batch = google::protobuf::Arena::CreateMessage<v1::PublishBatchRequest>(arena.get());
  return ArenaBatch(std::move(arena), batch);
}

}  // namespace kei::bus
