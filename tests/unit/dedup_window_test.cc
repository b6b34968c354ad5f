// The embedded broker's publish de-duplication window: ids are found within
// the window and forgotten after it, the count bound drops the oldest first,
// and an id inserted again keeps its newest entry.
#include "bus/dedup_window.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace kei::bus {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(DedupWindowTest, FindsIdsWithinTheWindowOnly) {
  DedupWindow window(absl::Seconds(10), 100);
  window.Insert("a", 1, kT0);
  window.Insert("b", 2, kT0 + absl::Seconds(5));
  EXPECT_EQ(window.Find("a", kT0 + absl::Seconds(9)), 1u);
  EXPECT_EQ(window.Find("b", kT0 + absl::Seconds(9)), 2u);
  EXPECT_FALSE(window.Find("c", kT0).has_value());
  EXPECT_FALSE(window.Find("a", kT0 + absl::Seconds(10)).has_value());
  EXPECT_EQ(window.Find("b", kT0 + absl::Seconds(10)), 2u);
  EXPECT_FALSE(window.Find("b", kT0 + absl::Seconds(15)).has_value());
  EXPECT_EQ(window.size(), 0u);
}

TEST(DedupWindowTest, CountBoundDropsTheOldest) {
  DedupWindow window(absl::Hours(1), 3);
  for (int i = 1; i <= 5; ++i) {
    window.Insert(absl::StrCat("id-", i), static_cast<uint64_t>(i), kT0);
  }
  EXPECT_EQ(window.size(), 3u);
  EXPECT_FALSE(window.Find("id-1", kT0).has_value());
  EXPECT_FALSE(window.Find("id-2", kT0).has_value());
  EXPECT_EQ(window.Find("id-3", kT0), 3u);
  EXPECT_EQ(window.Find("id-5", kT0), 5u);
}

TEST(DedupWindowTest, ReinsertedIdKeepsItsNewestEntry) {
  DedupWindow window(absl::Seconds(10), 100);
  window.Insert("a", 1, kT0);
  window.Insert("a", 7, kT0);  // same time: the newer insertion still wins
  window.Insert("a", 9, kT0 + absl::Seconds(8));
  // The first two insertions expire; the newest keeps the id.
  EXPECT_EQ(window.Find("a", kT0 + absl::Seconds(12)), 9u);
  EXPECT_EQ(window.size(), 1u);
  EXPECT_FALSE(window.Find("a", kT0 + absl::Seconds(18)).has_value());
  // Many re-insertions of a few ids under a tight count bound.
  DedupWindow small(absl::Hours(1), 2);
  for (int i = 0; i < 1000; ++i) small.Insert(absl::StrCat("k", i % 3), i, kT0);
  EXPECT_EQ(small.size(), 2u);
  EXPECT_EQ(small.Find("k0", kT0), 999u);
}

TEST(DedupWindowTest, ZeroWindowRemembersNothing) {
  DedupWindow window(absl::ZeroDuration(), 100);
  window.Insert("a", 1, kT0);
  EXPECT_FALSE(window.Find("a", kT0).has_value());
}

}  // namespace
}  // namespace kei::bus
