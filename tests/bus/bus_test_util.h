// Helpers the bus tests share: envelopes with text, collecting deliveries from
// a subscription within a time bound, and their payloads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "bus/backend.h"
#include "gtest/gtest.h"

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
  for (const bus::Delivery& d : deliveries) out.push_back(d.message->envelope().binary_data());
  return out;
}

// A subscription (a group member when `group` is set), failing the test when
// the backend refuses it.
inline std::unique_ptr<bus::Subscription> MustSubscribe(bus::Backend& backend,
                                                        const std::string& pattern,
                                                        bus::StartPosition start = {},
                                                        const std::string& group = "",
                                                        bus::GroupOptions options = {}) {
  bus::SubscribeSpec spec;
  spec.pattern = pattern;
  spec.group = group;
  spec.group_options = options;
  spec.start = start;
  auto s = backend.Subscribe(spec);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// Publishes Text(text); the sequence, or 0 (and a test failure).
inline uint64_t MustPublish(bus::Backend& backend, const std::string& topic,
                            absl::string_view text) {
  auto r = backend.Publish(topic, Text(text));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->sequence : 0;
}

}  // namespace kei::testing
