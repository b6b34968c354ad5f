// Serialized SubscribeResponses built from stored messages directly: each
// envelope goes out as the bytes keid keeps (bus/wire_scan.h), copied once,
// never re-encoded. The bytes equal what serializing the response built by
// DeliveryToProto gives (tests/bus/wire_scan_test.cc).
#pragma once

#include <string>

#include "bus/backend.h"

namespace kei::bus {

// Appends `delivery` to `response`, a serialized SubscribeResponse, as one of
// its `deliveries`. Returns the bytes appended.
size_t AppendDelivery(const Delivery& delivery, std::string* response);

}  // namespace kei::bus
