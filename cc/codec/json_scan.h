// Finding the end of the plain part of a JSON string eight bytes at a time.
// Payloads such as base64 bytes are long runs of plain ASCII, and JSON
// readers (the codec's reader, the stream protocol's frame splitter) spent
// most of their time looking at them one byte at a time.
#pragma once

#include <cstdint>
#include <cstring>

namespace kei::json_internal {

// True when one of the eight bytes in `w` is '"', '\\', a control character
// (< 0x20) or not ASCII (>= 0x80).
inline bool HasSpecialByte(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  // A byte of v is zero -> a high bit set in (v - kOnes) & ~v (exact for "any").
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t zero_in_quote = (quote - kOnes) & ~quote;
  const uint64_t zero_in_backslash = (backslash - kOnes) & ~backslash;
  // Bytes below 0x20 (exact for "any" when the bytes are ASCII; non-ASCII
  // bytes are caught by w itself).
  const uint64_t control = w - kOnes * 0x20;
  return ((zero_in_quote | zero_in_backslash | control | w) & kHigh) != 0;
}

// The first byte in [p, end) that is '"', '\\', a control character or not
// ASCII; `end` when there is none.
inline const char* SkipPlainStringBytes(const char* p, const char* end) {
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    if (HasSpecialByte(w)) break;
    p += 8;
  }
  while (p != end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
    ++p;
  }
  return end;
}

}  // namespace kei::json_internal
