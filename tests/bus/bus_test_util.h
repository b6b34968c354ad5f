// Helpers the bus tests share: envelopes with text, collecting deliveries from
// a subscription within a time bound, and their payloads.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "bus/backend.h"

namespace kei::testing {

inline bus::v1::Envelope Text(absl::string_view text) {
  bus::v1::Envelope e;
  e.set_source("kei://tests");
  e.set_type("dev.kei.test");
  e.set_datacontenttype("text/plain");
  e.set_binary_data(std::string(text));
  return e;
}

// Up to `count` deliveries, waiting at most `timeout` in all.
inline std::vector<bus::Delivery> Collect(bus::Subscription& subscription, size_t count,
                                     absl::Duration timeout = absl::Seconds(5)) {
  std::vector<bus::Delivery> out;
  absl::Time deadline = absl::Now() + timeout;
  while (out.size() < count && absl::Now() < deadline) {
    auto next = subscription.Next(count - out.size(), deadline);
    if (!next.ok()) break;
    for (bus::Delivery& d : *next) out.push_back(std::move(d));
  }
  return out;
}

inline std::vector<std::string> Payloads(const std::vector<bus::Delivery>& deliveries) {
  std::vector<std::string> out;
  for (const bus::Delivery& d : deliveries) out.push_back(d.message->envelope.binary_data());
  return out;
}

}  // namespace kei::testing
