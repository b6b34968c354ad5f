// The bus envelope on NATS: CloudEvents 1.0 binary mode, i.e. the attributes
// as message headers and the data as the payload, so non-KEI NATS clients can
// read (and write) bus messages with any CloudEvents SDK.
//
//   ce-specversion  "1.0"
//   ce-id, ce-source, ce-type, ce-subject, ce-dataschema
//   ce-time         RFC 3339 in UTC with the full fraction ("...T10:00:00.123Z")
//   content-type    datacontenttype
//   traceparent, tracestate
//   ce-<name>       extension <name>
//   payload         binary_data, or proto_data's value bytes with
//   kei-proto-type  proto_data's type_url
//   kei-data        "binary" only for an empty binary_data (an empty payload
//                   otherwise reads back as no data)
//
// Header values (and extension names) are percent-encoded where NATS headers
// could not carry them: '%', '"', control and non-ASCII bytes, and spaces at
// either end (NATS trims them); extension names also encode ':' and spaces,
// and their first character when the name collides with an attribute header.
// An empty extension value is written as `""`. Attributes left empty are not
// written. Decoding reverses all of it, so a round trip gives back an
// identical Envelope.
#pragma once

#include <memory>
#include <string>

#include <nats/nats.h>

#include "absl/status/statusor.h"
#include "kei/bus/v1/bus.pb.h"

namespace kei::bus::nats {

struct NatsMsgDeleter {
  void operator()(natsMsg* msg) const { natsMsg_Destroy(msg); }
};
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;

// A message for `subject` (and `reply`, may be empty) carrying `envelope`.
absl::StatusOr<NatsMsgPtr> EncodeEnvelope(const std::string& subject, const std::string& reply,
                                          const v1::Envelope& envelope);

// The envelope a message carries; best effort for messages from other
// publishers (no headers: the payload as binary_data; a malformed ce-time is
// left out).
v1::Envelope DecodeEnvelope(natsMsg* msg);

}  // namespace kei::bus::nats
