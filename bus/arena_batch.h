// A publish batch in an arena of its own. Parsing a batch of N messages into
// heap objects costs some fifteen allocations per message (every string field
// and sub-message), and as many frees later on another thread; in an arena
// they are a few block allocations per batch. NewArenaBatch's pointer owns the
// arena, so the embedded broker stores the parsed envelopes where they are and
// each stored message keeps the batch alive (shared_ptr's aliasing
// constructor); a batch in no arena is stored as copies.
#pragma once

#include <memory>

#include "kei/bus/v1/bus.pb.h"

namespace kei::bus {

using ArenaBatch = std::shared_ptr<v1::PublishBatchRequest>;

// An empty batch in a new arena.
ArenaBatch NewArenaBatch();

}  // namespace kei::bus
