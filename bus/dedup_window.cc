#include "bus/dedup_window.h"

#include <array>

namespace kei::bus {
namespace {

// Lowercase hex digit values; 0xFF for everything else.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = 0xFF;
  for (int c = '0'; c <= '9'; ++c) table[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) table[c] = static_cast<uint8_t>(c - 'a' + 10);
  return table;
}();

}  // namespace

std::optional<DedupWindow::Uuid> DedupWindow::ParseUuid(absl::string_view id) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') {
    return std::nullopt;
  }
  // Fixed-length runs of digits into locals (this runs for every publish):
  // no branch per digit, one check at the end.
  uint8_t invalid = 0;
  auto digits = [&](uint64_t word, size_t from, size_t count) {
    for (size_t i = from; i < from + count; ++i) {
      uint8_t v = kHexValue[static_cast<unsigned char>(id[i])];
      invalid |= v;
      word = (word << 4) | (v & 0xF);
    }
    return word;
  };
  Uuid uuid;
  uuid.high = digits(digits(digits(0, 0, 8), 9, 4), 14, 4);
  uuid.low = digits(digits(0, 19, 4), 24, 12);
  if (invalid & 0xF0) return std::nullopt;
  return uuid;
}

void DedupWindow::Prefetch(absl::string_view id) const {
  if (auto uuid = ParseUuid(id)) {
    uuids_.prefetch(*uuid);
  } else {
    others_.prefetch(id);
  }
}

std::optional<uint64_t> DedupWindow::Find(absl::string_view id, absl::Time now) {
  Expire(now);
  if (auto uuid = ParseUuid(id)) {
    auto it = uuids_.find(*uuid);
    if (it == uuids_.end()) return std::nullopt;
    return it->second.sequence;
  }
  auto it = others_.find(id);
  if (it == others_.end()) return std::nullopt;
  return it->second.sequence;
}

void DedupWindow::Insert(absl::string_view id, uint64_t sequence, absl::Time time) {
  if (window_ <= absl::ZeroDuration() || max_ids_ == 0) return;
  Inserted entry{++insertions_, time, Uuid{}, nullptr};
  if (auto uuid = ParseUuid(id)) {
    uuids_[*uuid] = Seen{sequence, insertions_};
    entry.uuid = *uuid;
  } else {
    auto [it, inserted] = others_.try_emplace(id);
    it->second = Seen{sequence, insertions_};
    entry.other = &*it;
  }
  order_.push_back(entry);
  while (size() > max_ids_) PopOldest();
}

void DedupWindow::PopOldest() {
  const Inserted& oldest = order_.front();
  // An id inserted again later keeps its entry until its newest insertion goes.
  if (oldest.other != nullptr) {
    if (oldest.other->second.insertion == oldest.insertion) others_.erase(oldest.other->first);
  } else if (auto it = uuids_.find(oldest.uuid);
             it != uuids_.end() && it->second.insertion == oldest.insertion) {
    uuids_.erase(it);
  }
  order_.pop_front();
  // The next eviction's lookup, one insertion ahead.
  if (!order_.empty() && order_.front().other == nullptr) uuids_.prefetch(order_.front().uuid);
}

void DedupWindow::Expire(absl::Time now) {
  while (!order_.empty() && order_.front().time + window_ <= now) PopOldest();
}

}  // namespace kei::bus
