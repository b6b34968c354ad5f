// CancellationToken and Context: cancellation is idempotent, callbacks run
// exactly once (at once when registered late), waits end on cancel or deadline.
#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/dispatch/cancellation.h"
#include "cc/dispatch/context.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

TEST(CancellationTokenTest, StartsNotCancelled) {
  CancellationToken token;
  EXPECT_FALSE(token.IsCancelled());
}

TEST(CancellationTokenTest, CancelIsIdempotentAndCallbacksRunOnce) {
  CancellationToken token;
  int a = 0, b = 0;
  token.OnCancel([&] { ++a; });
  token.OnCancel([&] { ++b; });
  EXPECT_EQ(a, 0);
  token.Cancel();
  EXPECT_TRUE(token.IsCancelled());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  token.Cancel();
  token.Cancel();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
}

TEST(CancellationTokenTest, CallbacksRunInRegistrationOrder) {
  CancellationToken token;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) token.OnCancel([&order, i] { order.push_back(i); });
  token.Cancel();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(CancellationTokenTest, OnCancelAfterCancelRunsImmediately) {
  CancellationToken token;
  token.Cancel();
  int runs = 0;
  token.OnCancel([&] { ++runs; });
  EXPECT_EQ(runs, 1);
  token.Cancel();
  EXPECT_EQ(runs, 1);
}

TEST(CancellationTokenTest, CopiesShareState) {
  CancellationToken token;
  CancellationToken copy = token;
  int runs = 0;
  copy.OnCancel([&] { ++runs; });
  token.Cancel();
  EXPECT_TRUE(copy.IsCancelled());
  EXPECT_EQ(runs, 1);
  copy.Cancel();
  EXPECT_EQ(runs, 1);
  CancellationToken fresh;
  EXPECT_FALSE(fresh.IsCancelled());
}

TEST(CancellationTokenTest, CallbackMayRegisterAnotherCallback) {
  // Callbacks run outside the lock: registering from inside one must not
  // deadlock, and the late registration runs at once.
  CancellationToken token;
  int inner = 0;
  token.OnCancel([&] { token.OnCancel([&] { ++inner; }); });
  token.Cancel();
  EXPECT_EQ(inner, 1);
}

TEST(CancellationTokenTest, WaitUntilTimesOutWhenNotCancelled) {
  CancellationToken token;
  absl::Time start = absl::Now();
  EXPECT_FALSE(token.WaitUntil(start + absl::Milliseconds(20)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(19));
  // A deadline in the past returns at once.
  EXPECT_FALSE(token.WaitUntil(absl::Now() - absl::Seconds(1)));
}

TEST(CancellationTokenTest, WaitUntilReturnsTrueWhenAlreadyCancelled) {
  CancellationToken token;
  token.Cancel();
  EXPECT_TRUE(token.WaitUntil(absl::InfiniteFuture()));
  EXPECT_TRUE(token.WaitUntil(absl::InfinitePast()));
}

TEST(CancellationTokenTest, WaitUntilWakesOnCancelFromAnotherThread) {
  CancellationToken token;
  absl::Time start = absl::Now();
  std::thread canceller([token] {
    absl::SleepFor(absl::Milliseconds(20));
    token.Cancel();
  });
  EXPECT_TRUE(token.WaitUntil(start + absl::Seconds(10)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  canceller.join();
}

TEST(CancellationTokenTest, ConcurrentCancelRunsCallbackOnce) {
  for (int round = 0; round < 20; ++round) {
    CancellationToken token;
    std::atomic<int> runs{0};
    token.OnCancel([&] { runs.fetch_add(1); });
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([token] { token.Cancel(); });
    for (auto& t : threads) t.join();
    EXPECT_EQ(runs.load(), 1);
  }
}

TEST(ContextTest, Defaults) {
  Context context;
  EXPECT_EQ(context.method(), nullptr);
  EXPECT_EQ(context.protocol(), "inproc");
  EXPECT_FALSE(context.has_deadline());
  EXPECT_EQ(context.deadline(), absl::InfiniteFuture());
  EXPECT_FALSE(context.deadline_exceeded());
  EXPECT_FALSE(context.cancelled());
  EXPECT_FALSE(context.identity().authenticated());
  EXPECT_TRUE(context.metadata().empty());
  EXPECT_TRUE(context.response_metadata().empty());
  EXPECT_LE(context.start_time(), absl::Now());
}

TEST(ContextTest, DeadlineAccessors) {
  Context context;
  context.set_deadline(absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(context.has_deadline());
  EXPECT_FALSE(context.deadline_exceeded());
  EXPECT_GT(context.remaining(), absl::Seconds(29));
  EXPECT_LE(context.remaining(), absl::Seconds(30));
  context.set_deadline(absl::Now() - absl::Milliseconds(1));
  EXPECT_TRUE(context.deadline_exceeded());
  EXPECT_LT(context.remaining(), absl::ZeroDuration());
}

TEST(ContextTest, MetadataAndResponseMetadata) {
  Context context;
  context.mutable_metadata().emplace("x-a", "1");
  context.mutable_metadata().emplace("x-a", "2");
  EXPECT_EQ(FirstValue(context.metadata(), "x-a"), "1");
  EXPECT_EQ(FirstValue(context.metadata(), "x-b"), std::nullopt);
  context.AddResponseMetadata("k", "v1");
  context.AddResponseMetadata("k", "v2");
  EXPECT_EQ(context.response_metadata().count("k"), 2u);
}

TEST(ContextTest, SleepForCompletesWithoutDeadline) {
  Context context;
  absl::Time start = absl::Now();
  EXPECT_TRUE(context.SleepFor(absl::Milliseconds(10)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(9));
  EXPECT_TRUE(context.SleepFor(absl::ZeroDuration()));
}

TEST(ContextTest, SleepForCompletesBeforeAFarDeadline) {
  Context context;
  context.set_deadline(absl::Now() + absl::Seconds(60));
  EXPECT_TRUE(context.SleepFor(absl::Milliseconds(5)));
}

TEST(ContextTest, SleepForStopsAtTheDeadline) {
  Context context;
  absl::Time start = absl::Now();
  context.set_deadline(start + absl::Milliseconds(20));
  EXPECT_FALSE(context.SleepFor(absl::Seconds(30)));
  absl::Duration slept = absl::Now() - start;
  EXPECT_GE(slept, absl::Milliseconds(19));
  EXPECT_LT(slept, absl::Seconds(5));
  // Past the deadline, every sleep fails at once.
  start = absl::Now();
  EXPECT_FALSE(context.SleepFor(absl::Milliseconds(1)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(ContextTest, SleepForStopsOnCancel) {
  Context context;
  CancellationToken token;
  context.set_cancellation(token);
  absl::Time start = absl::Now();
  std::thread canceller([token] {
    absl::SleepFor(absl::Milliseconds(20));
    token.Cancel();
  });
  EXPECT_FALSE(context.SleepFor(absl::Seconds(30)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(context.cancelled());
  canceller.join();
  // Already cancelled: fails at once, even for a zero sleep.
  EXPECT_FALSE(context.SleepFor(absl::ZeroDuration()));
  EXPECT_FALSE(context.SleepFor(absl::Milliseconds(50)));
}

}  // namespace
}  // namespace kei
