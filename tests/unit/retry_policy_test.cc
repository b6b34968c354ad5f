// The shared retry policy: exponential backoff ceilings, full jitter, and
// retrying only when it is safe and useful.
#include <optional>
#include <random>
#include <set>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "cc/retry/retry_policy.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

AttemptOutcome Outcome(absl::Status status, bool reached_server = true,
                       std::optional<absl::Duration> pushback = std::nullopt) {
  AttemptOutcome outcome;
  outcome.status = std::move(status);
  outcome.reached_server = reached_server;
  outcome.pushback = pushback;
  return outcome;
}

class RetryPolicyTest : public ::testing::Test {
 protected:
  std::optional<absl::Duration> Next(const AttemptOutcome& outcome, bool idempotent = true,
                                     int attempts_made = 1,
                                     absl::Time deadline = absl::InfiniteFuture()) {
    return NextRetryDelay(policy_, attempts_made, outcome, idempotent, deadline, gen_);
  }

  RetryPolicy policy_;
  std::seed_seq seed_{7, 11, 13};
  absl::BitGen gen_{seed_};
};

TEST(RetryPolicyDefaultsTest, Defaults) {
  RetryPolicy p;
  EXPECT_EQ(p.max_attempts, 3);
  EXPECT_EQ(p.initial_backoff, absl::Milliseconds(50));
  EXPECT_EQ(p.max_backoff, absl::Seconds(2));
  EXPECT_EQ(p.backoff_multiplier, 2.0);
  EXPECT_EQ(RetryPolicy::None().max_attempts, 1);
}

TEST(BackoffCeilingTest, GrowsExponentiallyUpToTheCap) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(100);
  p.backoff_multiplier = 2.0;
  p.max_backoff = absl::Milliseconds(1000);
  EXPECT_EQ(BackoffCeiling(p, 1), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCeiling(p, 2), absl::Milliseconds(200));
  EXPECT_EQ(BackoffCeiling(p, 3), absl::Milliseconds(400));
  EXPECT_EQ(BackoffCeiling(p, 4), absl::Milliseconds(800));
  EXPECT_EQ(BackoffCeiling(p, 5), absl::Milliseconds(1000));
  EXPECT_EQ(BackoffCeiling(p, 6), absl::Milliseconds(1000));
  // Huge retry numbers must not overflow past the cap.
  EXPECT_EQ(BackoffCeiling(p, 1000), absl::Milliseconds(1000));
  EXPECT_EQ(BackoffCeiling(p, 1 << 30), absl::Milliseconds(1000));
  // Retry numbers below 1 are treated as the first retry.
  EXPECT_EQ(BackoffCeiling(p, 0), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCeiling(p, -5), absl::Milliseconds(100));
}

TEST(BackoffCeilingTest, OtherMultipliers) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(10);
  p.backoff_multiplier = 1.5;
  p.max_backoff = absl::Seconds(10);
  EXPECT_EQ(BackoffCeiling(p, 3), absl::Microseconds(22500));
  p.backoff_multiplier = 1.0;
  EXPECT_EQ(BackoffCeiling(p, 50), absl::Milliseconds(10));
  // The cap also bounds the very first retry.
  p.max_backoff = absl::Milliseconds(5);
  EXPECT_EQ(BackoffCeiling(p, 1), absl::Milliseconds(5));
}

TEST_F(RetryPolicyTest, OkIsNeverRetried) {
  EXPECT_EQ(Next(Outcome(absl::OkStatus())), std::nullopt);
}

TEST_F(RetryPolicyTest, OnlyUnavailableAndResourceExhaustedWithPushbackRetry) {
  for (absl::StatusCode code :
       {absl::StatusCode::kCancelled, absl::StatusCode::kUnknown,
        absl::StatusCode::kInvalidArgument, absl::StatusCode::kDeadlineExceeded,
        absl::StatusCode::kNotFound, absl::StatusCode::kAlreadyExists,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kAborted, absl::StatusCode::kOutOfRange,
        absl::StatusCode::kUnimplemented, absl::StatusCode::kInternal,
        absl::StatusCode::kDataLoss, absl::StatusCode::kUnauthenticated}) {
    SCOPED_TRACE(absl::StatusCodeToString(code));
    EXPECT_EQ(Next(Outcome(absl::Status(code, "x"))), std::nullopt);
    // Even with pushback: the code decides.
    EXPECT_EQ(Next(Outcome(absl::Status(code, "x"), true, absl::Milliseconds(1))),
              std::nullopt);
  }
  EXPECT_NE(Next(Outcome(absl::UnavailableError("down"))), std::nullopt);
}

TEST_F(RetryPolicyTest, UnavailableWithoutPushbackUsesFullJitter) {
  policy_.max_attempts = 100;
  for (int attempts : {1, 2, 3, 7}) {
    SCOPED_TRACE(attempts);
    absl::Duration ceiling = BackoffCeiling(policy_, attempts);
    std::set<int64_t> distinct;
    absl::Duration sum;
    const int kSamples = 2000;
    for (int i = 0; i < kSamples; ++i) {
      auto delay = Next(Outcome(absl::UnavailableError("down")), true, attempts);
      ASSERT_TRUE(delay.has_value());
      ASSERT_GE(*delay, absl::ZeroDuration());
      ASSERT_LE(*delay, ceiling);
      distinct.insert(absl::ToInt64Nanoseconds(*delay));
      sum += *delay;
    }
    EXPECT_GT(distinct.size(), 100u);  // not all equal
    absl::Duration mean = sum / kSamples;
    // Uniform on [0, ceiling]: the mean is near half the ceiling.
    EXPECT_GT(mean, ceiling * 0.4);
    EXPECT_LT(mean, ceiling * 0.6);
  }
}

TEST_F(RetryPolicyTest, JitterSpreadsAcrossTheWholeRange) {
  policy_.initial_backoff = absl::Milliseconds(100);
  bool low = false, high = false;
  for (int i = 0; i < 1000; ++i) {
    auto delay = Next(Outcome(absl::UnavailableError("down")));
    ASSERT_TRUE(delay.has_value());
    low = low || *delay < absl::Milliseconds(10);
    high = high || *delay > absl::Milliseconds(90);
  }
  EXPECT_TRUE(low);
  EXPECT_TRUE(high);
}

TEST_F(RetryPolicyTest, PushbackIsTheDelay) {
  EXPECT_EQ(Next(Outcome(absl::ResourceExhaustedError("busy"), true, absl::Milliseconds(250))),
            absl::Milliseconds(250));
  EXPECT_EQ(Next(Outcome(absl::ResourceExhaustedError("busy"), true, absl::ZeroDuration())),
            absl::ZeroDuration());
  // Server pushback overrides the backoff for UNAVAILABLE too (gRPC A6),
  // even beyond the backoff cap.
  EXPECT_EQ(Next(Outcome(absl::UnavailableError("down"), true, absl::Seconds(5))),
            absl::Seconds(5));
}

TEST_F(RetryPolicyTest, ResourceExhaustedWithoutPushbackIsNotRetried) {
  EXPECT_EQ(Next(Outcome(absl::ResourceExhaustedError("quota"))), std::nullopt);
}

TEST_F(RetryPolicyTest, NegativePushbackMeansDoNotRetry) {
  EXPECT_EQ(Next(Outcome(absl::UnavailableError("down"), true, absl::Milliseconds(-1))),
            std::nullopt);
  EXPECT_EQ(
      Next(Outcome(absl::ResourceExhaustedError("busy"), true, absl::Milliseconds(-1))),
      std::nullopt);
}

TEST_F(RetryPolicyTest, NonIdempotentCallsRetryOnlyIfTheyNeverReachedTheServer) {
  EXPECT_EQ(Next(Outcome(absl::UnavailableError("reset"), /*reached_server=*/true),
                 /*idempotent=*/false),
            std::nullopt);
  EXPECT_NE(Next(Outcome(absl::UnavailableError("refused"), /*reached_server=*/false),
                 /*idempotent=*/false),
            std::nullopt);
  EXPECT_EQ(Next(Outcome(absl::ResourceExhaustedError("busy"), true, absl::Milliseconds(5)),
                 /*idempotent=*/false),
            std::nullopt);
  EXPECT_EQ(Next(Outcome(absl::ResourceExhaustedError("busy"), false, absl::Milliseconds(5)),
                 /*idempotent=*/false),
            absl::Milliseconds(5));
  // Idempotent calls retry whether or not they reached the server.
  EXPECT_NE(Next(Outcome(absl::UnavailableError("reset"), true), true), std::nullopt);
  EXPECT_NE(Next(Outcome(absl::UnavailableError("refused"), false), true), std::nullopt);
}

TEST_F(RetryPolicyTest, MaxAttemptsIsRespected) {
  policy_.max_attempts = 3;
  AttemptOutcome down = Outcome(absl::UnavailableError("down"));
  EXPECT_NE(Next(down, true, 1), std::nullopt);
  EXPECT_NE(Next(down, true, 2), std::nullopt);
  EXPECT_EQ(Next(down, true, 3), std::nullopt);
  EXPECT_EQ(Next(down, true, 4), std::nullopt);

  policy_ = RetryPolicy::None();
  EXPECT_EQ(Next(down, true, 1), std::nullopt);
  EXPECT_EQ(Next(Outcome(absl::ResourceExhaustedError("busy"), true, absl::Milliseconds(1)),
                 true, 1),
            std::nullopt);
}

TEST_F(RetryPolicyTest, DelayThatWouldPassTheDeadlineIsNotTaken) {
  AttemptOutcome busy =
      Outcome(absl::ResourceExhaustedError("busy"), true, absl::Milliseconds(500));
  EXPECT_EQ(Next(busy, true, 1, absl::Now() + absl::Milliseconds(100)), std::nullopt);
  EXPECT_EQ(Next(busy, true, 1, absl::Now() - absl::Seconds(1)), std::nullopt);
  EXPECT_EQ(Next(busy, true, 1, absl::Now() + absl::Seconds(60)), absl::Milliseconds(500));

  // Jittered delays are bounded by the ceiling, so a roomy deadline allows all.
  policy_.initial_backoff = absl::Milliseconds(10);
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(Next(Outcome(absl::UnavailableError("down")), true, 1,
                   absl::Now() + absl::Seconds(10)),
              std::nullopt);
  }
  // A deadline already passed never retries.
  EXPECT_EQ(Next(Outcome(absl::UnavailableError("down")), true, 1, absl::Now()),
            std::nullopt);
}

TEST_F(RetryPolicyTest, SameSeedSameDelays) {
  std::seed_seq s1{1, 2, 3};
  std::seed_seq s2{1, 2, 3};
  absl::BitGen a(s1), b(s2);
  for (int i = 0; i < 20; ++i) {
    auto da = NextRetryDelay(policy_, 1, Outcome(absl::UnavailableError("x")), true,
                             absl::InfiniteFuture(), a);
    auto db = NextRetryDelay(policy_, 1, Outcome(absl::UnavailableError("x")), true,
                             absl::InfiniteFuture(), b);
    EXPECT_EQ(da, db);
  }
}

}  // namespace
}  // namespace kei
