// The eight-bytes-at-a-time string scan (cc/codec/json_scan.h) against the
// byte-at-a-time rule it replaces: every byte value at every offset of a
// buffer longer than two words, and buffers of every short length.
#include "cc/codec/json_scan.h"

#include <string>

#include "gtest/gtest.h"

namespace kei::json_internal {
namespace {

bool Special(unsigned char c) { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80; }

const char* NaiveSkip(const char* p, const char* end) {
  while (p != end && !Special(static_cast<unsigned char>(*p))) ++p;
  return p;
}

TEST(JsonScanTest, FindsEverySpecialByteAtEveryOffset) {
  for (int length = 0; length <= 19; ++length) {
    for (int at = 0; at < length; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string s(length, 'a');
        s[at] = static_cast<char>(c);
        const char* end = s.data() + s.size();
        ASSERT_EQ(SkipPlainStringBytes(s.data(), end), NaiveSkip(s.data(), end))
            << "length " << length << ", byte " << c << " at " << at;
      }
    }
    std::string plain(length, '~');
    EXPECT_EQ(SkipPlainStringBytes(plain.data(), plain.data() + length), plain.data() + length);
  }
}

TEST(JsonScanTest, FirstOfSeveralSpecialBytesWins) {
  // A borrow out of a special byte must not hide or invent an earlier one.
  std::string s = "abc \x1f\x80\"\\ defghijk";
  EXPECT_EQ(SkipPlainStringBytes(s.data(), s.data() + s.size()) - s.data(), 4);
  s.assign("abcdefghij\x20\x21\x7e\x7f\x00z", 16);  // DEL is plain, NUL is not
  EXPECT_EQ(SkipPlainStringBytes(s.data(), s.data() + s.size()) - s.data(), 14);
}

}  // namespace
}  // namespace kei::json_internal
