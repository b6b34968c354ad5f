// Reconnect backoff: exponential ceilings capped at max_backoff, full jitter
// within [0, ceiling], and the attempt limit.
#include "clients/stream/reconnect_policy.h"

#include "absl/random/random.h"
#include "clients/stream/handler_dispatcher.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

TEST(ReconnectPolicyTest, CeilingGrowsAndCaps) {
  ReconnectPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Seconds(1);
  policy.multiplier = 2;
  EXPECT_EQ(ReconnectCeiling(policy, 1), absl::Milliseconds(100));
  EXPECT_EQ(ReconnectCeiling(policy, 2), absl::Milliseconds(200));
  EXPECT_EQ(ReconnectCeiling(policy, 4), absl::Milliseconds(800));
  EXPECT_EQ(ReconnectCeiling(policy, 5), absl::Seconds(1));
  EXPECT_EQ(ReconnectCeiling(policy, 50), absl::Seconds(1));
}

TEST(ReconnectPolicyTest, FullJitterStaysWithinCeiling) {
  ReconnectPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  absl::BitGen random;
  absl::Duration low = absl::InfiniteDuration(), high = absl::ZeroDuration();
  for (int i = 0; i < 500; ++i) {
    absl::Duration d = ReconnectDelay(policy, 3, random);
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LE(d, absl::Milliseconds(400));
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_LT(low, absl::Milliseconds(100));
  EXPECT_GT(high, absl::Milliseconds(300));
  policy.jitter = false;
  EXPECT_EQ(ReconnectDelay(policy, 3, random), absl::Milliseconds(400));
}

TEST(ReconnectPolicyTest, AttemptLimit) {
  ReconnectPolicy policy;
  EXPECT_TRUE(ShouldReconnect(policy, 1000));
  policy.max_attempts = 3;
  EXPECT_TRUE(ShouldReconnect(policy, 2));
  EXPECT_FALSE(ShouldReconnect(policy, 3));
  policy.enabled = false;
  EXPECT_FALSE(ShouldReconnect(policy, 0));
}

TEST(HandlerDispatcherTest, ThrowingHandlersAreCountedNotFatal) {
  std::atomic<int> reported{0};
  std::atomic<int> ran{0};
  HandlerDispatcher dispatcher([&](const absl::Status& status) {
    EXPECT_NE(status.message().find("boom"), absl::string_view::npos);
    ++reported;
  });
  dispatcher.Post("first", [&] { ++ran; });
  dispatcher.Post("thrower", [] { throw std::runtime_error("boom"); });
  dispatcher.Post("third", [&] { ++ran; });
  dispatcher.Drain();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(dispatcher.errors(), 1u);
  EXPECT_EQ(reported.load(), 1);
}

}  // namespace
}  // namespace kei
