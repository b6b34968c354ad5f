// Envelope defaults every backend and client applies the same way: a random
// UUID v4 id (the de-duplication key) and the publish time; and the envelope
// of a protobuf payload.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "kei/bus/v1/bus.pb.h"

namespace kei::bus {

// A random (version 4) UUID, e.g. "1b4e28ba-2fa1-4d3b-8a5e-3c1f0b9e7d42".
std::string NewUuid();
// Fills `envelope`'s id (NewUuid) and time (`now`) when they are empty.
void FillEnvelopeDefaults(v1::Envelope& envelope, absl::Time now);
// `payload` packed into proto_data, datacontenttype "application/protobuf",
// type the message's full name.
v1::Envelope ProtoEnvelope(const google::protobuf::Message& payload);

}  // namespace kei::bus
