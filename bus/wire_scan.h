// Reading bus messages as the bytes they came in, without parsing them into
// protobuf objects: keid keeps each envelope as the publisher serialized it,
// from the publish batch to the log to the subscribers. A scan accepts only
// what a protobuf parser accepts (well-formed fields, UTF-8 strings), so what
// keid stores, every subscriber can parse.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kei::bus {

// One PublishRequest of a serialized PublishBatchRequest.
struct PublishSlice {
  absl::string_view topic;
  // The serialized Envelope: a slice of the batch, or of `merged` when the
  // request carried its envelope in several pieces (protobuf merges them).
  absl::string_view envelope;
};

struct SplitBatch {
  std::vector<PublishSlice> messages;
  std::deque<std::string> merged;  // the envelopes that came in pieces (stable addresses)
};

// The requests of a serialized PublishBatchRequest, in order.
// INVALID_ARGUMENT when it is malformed or holds more than `max_messages`.
absl::StatusOr<SplitBatch> SplitPublishBatch(absl::string_view batch, size_t max_messages);

// What the broker needs from a serialized Envelope.
struct EnvelopeScan {
  absl::string_view id;  // a slice of the envelope; empty when unset
  bool has_time = false;
};

// Checks that `envelope` parses as a kei.bus.v1.Envelope and finds its id.
// INVALID_ARGUMENT (with the reason) when it does not.
absl::StatusOr<EnvelopeScan> ScanEnvelope(absl::string_view envelope);

// Appends the id (`id`, when not empty) and time (`time`, when not
// InfiniteFuture) fields to a serialized Envelope: parsed, the later field
// wins, so this sets them. Returns the offset of the id's bytes in `envelope`.
size_t AppendEnvelopeDefaults(absl::string_view id, absl::Time time, std::string* envelope);

}  // namespace kei::bus
