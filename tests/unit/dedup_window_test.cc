// The embedded broker's publish de-duplication window: ids are found within
// the window and forgotten after it, the count bound drops the oldest first,
// an id inserted again keeps its newest entry, and UUID ids (kept as 16 bytes)
// never collide with other spellings, also in a table big enough for its own
// mappings.
#include "bus/dedup_window.h"

#include <cctype>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

TEST(DedupWindowTest, UuidIdsAreExactAndBoundLikeOthers) {
  DedupWindow window(absl::Seconds(10), 4);
  const std::string uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
  std::string upper = uuid;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string moved_dash = uuid;
  std::swap(moved_dash[8], moved_dash[9]);  // "0f1e2d3c4-b5a..."
  window.Insert(uuid, 1, kT0);
  EXPECT_EQ(window.Find(uuid, kT0), 1u);
  // Other spellings of the same digits are different ids.
  EXPECT_FALSE(window.Find(upper, kT0).has_value());
  EXPECT_FALSE(window.Find(moved_dash, kT0).has_value());
  EXPECT_FALSE(window.Find(uuid.substr(0, 35), kT0).has_value());
  window.Insert(upper, 2, kT0);
  window.Insert(moved_dash, 3, kT0);
  EXPECT_EQ(window.Find(uuid, kT0), 1u);
  EXPECT_EQ(window.Find(upper, kT0), 2u);
  EXPECT_EQ(window.Find(moved_dash, kT0), 3u);
  // Every digit counts.
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (uuid[i] == '-') continue;
    std::string other = uuid;
    other[i] = other[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(window.Find(other, kT0).has_value()) << other;
  }
  // The count bound drops the oldest whatever its kind: the first UUID goes.
  window.Insert("plain", 4, kT0 + absl::Seconds(1));
  window.Insert("11111111-2222-4333-8444-555555555555", 5, kT0 + absl::Seconds(1));
  EXPECT_EQ(window.size(), 4u);
  EXPECT_FALSE(window.Find(uuid, kT0 + absl::Seconds(1)).has_value());
  EXPECT_EQ(window.Find("11111111-2222-4333-8444-555555555555", kT0 + absl::Seconds(1)), 5u);
  // A re-inserted UUID keeps its newest entry; the time bound forgets the rest.
  window.Insert("11111111-2222-4333-8444-555555555555", 6, kT0 + absl::Seconds(8));
  EXPECT_EQ(window.Find("11111111-2222-4333-8444-555555555555", kT0 + absl::Seconds(12)), 6u);
  EXPECT_EQ(window.size(), 1u);
  EXPECT_FALSE(window.Find("11111111-2222-4333-8444-555555555555", kT0 + absl::Seconds(18)));
  EXPECT_EQ(window.size(), 0u);
}

// Tens of thousands of ids: the table outgrows the heap into its own
// mappings (huge_page_allocator.h), and the count bound still holds exactly.
TEST(DedupWindowTest, LargeWindowsKeepTheNewestIds) {
  constexpr size_t kMax = 100000, kInserted = 150000;
  DedupWindow window(absl::Hours(1), kMax);
  auto uuid = [](size_t i) { return absl::StrFormat("%08x-0000-4000-8000-%012x", i, i * 31); };
  for (size_t i = 0; i < kInserted; ++i) window.Insert(uuid(i), i + 1, kT0);
  EXPECT_EQ(window.size(), kMax);
  for (size_t i = 0; i < kInserted; i += 997) {
    auto found = window.Find(uuid(i), kT0);
    if (i < kInserted - kMax) {
      EXPECT_FALSE(found.has_value()) << i;
    } else {
      EXPECT_EQ(found, i + 1) << i;
    }
  }
}

// A table that grows while ids are re-inserted and evicted: every id in the
// window is found with its newest sequence while the old table's entries move
// to the new one a few at a time, and the count bound holds throughout.
TEST(DedupWindowTest, GrowingKeepsEveryIdInTheWindow) {
  constexpr size_t kMax = 60000, kInserted = 200000;
  DedupWindow window(absl::Hours(1), kMax);
  auto uuid = [](size_t i) { return absl::StrFormat("%08x-0000-4000-8000-%012x", i, i * 31); };
  size_t next = 0;  // ids 0..next-1 inserted; every 10th is inserted again later
  for (size_t n = 0; n < kInserted; ++n) {
    if (n % 10 == 9 && next > 5000) {
      const size_t again = next - 5000;  // still in the window
      window.Insert(uuid(again), 1000000 + n, kT0);
      ASSERT_EQ(window.Find(uuid(again), kT0), 1000000 + n);
    } else {
      window.Insert(uuid(next), next + 1, kT0);
      ++next;
    }
    ASSERT_LE(window.size(), kMax);
    if (n % 1999 == 0) {
      // Ids across the window, in both tables while growing.
      for (size_t back = 1; back <= kMax * 8 / 10 && back <= next; back += 97) {
        ASSERT_TRUE(window.Find(uuid(next - back), kT0).has_value()) << n << " " << back;
      }
    }
  }
  EXPECT_EQ(window.size(), kMax);
  // The oldest ids are gone; the newest are found with their sequence.
  EXPECT_FALSE(window.Find(uuid(0), kT0).has_value());
  EXPECT_EQ(window.Find(uuid(next - 1), kT0), next);
}

TEST(DedupWindowTest, ZeroWindowRemembersNothing) {
  DedupWindow window(absl::ZeroDuration(), 100);
  window.Insert("a", 1, kT0);
  EXPECT_FALSE(window.Find("a", kT0).has_value());
}

}  // namespace
}  // namespace kei::bus
