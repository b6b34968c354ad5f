// Envelope helpers: NewUuid makes canonical version-4 UUIDs (the form the
// de-duplication window keeps as 128 bits), and FillEnvelopeDefaults fills
// only what is missing.
#include "bus/envelope.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace kei::bus {
namespace {

bool IsLowerHex(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

TEST(EnvelopeTest, NewUuidIsACanonicalVersion4Uuid) {
  std::set<std::string> seen;
  std::set<char> variants;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuid();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t j = 0; j < id.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        ASSERT_EQ(id[j], '-') << id;
      } else {
        ASSERT_TRUE(IsLowerHex(id[j])) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;  // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant
    variants.insert(id[19]);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(variants.size(), 4u);  // the two free variant bits are random
}

TEST(EnvelopeTest, FillEnvelopeDefaultsFillsOnlyWhatIsMissing) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  v1::Envelope empty;
  FillEnvelopeDefaults(empty, now);
  EXPECT_EQ(empty.id().size(), 36u);
  EXPECT_EQ(empty.time().seconds(), 1700000000);

  v1::Envelope given;
  given.set_id("mine");
  given.mutable_time()->set_seconds(5);
  FillEnvelopeDefaults(given, now);
  EXPECT_EQ(given.id(), "mine");
  EXPECT_EQ(given.time().seconds(), 5);
}

}  // namespace
}  // namespace kei::bus
