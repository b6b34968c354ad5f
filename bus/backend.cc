// Backend's default for serialized publish batches: parse, then publish the
// parsed batch.
#include "bus/backend.h"

#include "absl/strings/str_cat.h"

namespace kei::bus {

absl::StatusOr<std::vector<absl::StatusOr<PublishResult>>> Backend::PublishSerializedBatch(
    std::string batch) {
  ArenaBatch parsed = NewArenaBatch();
  if (!parsed->ParseFromString(batch)) {
    return absl::InvalidArgumentError("the publish batch does not parse");
  }
  if (static_cast<size_t>(parsed->messages_size()) > kMaxPublishBatch) {
    return absl::InvalidArgumentError(absl::StrCat("a batch holds at most ", kMaxPublishBatch,
                                                   " messages, not ", parsed->messages_size()));
  }
  return PublishArenaBatch(std::move(parsed));
}

}  // namespace kei::bus
