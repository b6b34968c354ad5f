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

// Tables smaller than this grow the usual way (a whole rehash is short).
constexpr size_t kIncrementalFrom = 4096;
// Entries moved from the old table per insert while growing: more than one,
// so the move ends well before the new table fills.
constexpr int kMovedPerInsert = 4;

}  // namespace

DedupWindow::Key::Key(absl::string_view id) : text_(id) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') return;
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
  high_ = digits(digits(digits(0, 0, 8), 9, 4), 14, 4);
  low_ = digits(digits(0, 19, 4), 24, 12);
  is_uuid_ = (invalid & 0xF0) == 0;
}

void DedupWindow::Prefetch(const Key& key) const {
  if (key.is_uuid_) {
    uuids_.prefetch(UuidOf(key));
    if (!draining_.empty()) draining_.prefetch(UuidOf(key));
  } else {
    others_.prefetch(key.text_);
  }
}

std::optional<uint64_t> DedupWindow::Find(const Key& key, absl::Time now) {
  Expire(now);
  if (key.is_uuid_) {
    const Uuid uuid = UuidOf(key);
    if (auto it = uuids_.find(uuid); it != uuids_.end()) return it->second.sequence;
    if (draining_.empty()) return std::nullopt;
    auto it = draining_.find(uuid);
    if (it == draining_.end()) return std::nullopt;
    return it->second.sequence;
  }
  auto it = others_.find(key.text_);
  if (it == others_.end()) return std::nullopt;
  return it->second.sequence;
}

void DedupWindow::Insert(const Key& key, uint64_t sequence, absl::Time time) {
  if (window_ <= absl::ZeroDuration() || max_ids_ == 0) return;
  Inserted entry{absl::ToUnixNanos(time), Uuid{}, nullptr};
  ++insertions_;
  if (key.is_uuid_) {
    entry.uuid = UuidOf(key);
    GrowIfFull();
    if (!draining_.empty()) {
      EraseDraining(entry.uuid);  // its newest entry goes to the new table
      MoveSome();
    }
    uuids_[entry.uuid] = Seen{sequence, insertions_};
  } else {
    auto [it, inserted] = others_.try_emplace(key.text_);
    it->second = Seen{sequence, insertions_};
    entry.other = &*it;
  }
  order_.push_back(entry);
  while (size() > max_ids_) PopOldest();
}

void DedupWindow::PopOldest() {
  const Inserted& oldest = order_.front();
  const uint64_t insertion = insertions_ - order_.size() + 1;
  // An id inserted again later keeps its entry until its newest insertion goes.
  if (oldest.other != nullptr) {
    if (oldest.other->second.insertion == insertion) others_.erase(oldest.other->first);
  } else if (auto it = uuids_.find(oldest.uuid); it != uuids_.end()) {
    if (it->second.insertion == insertion) {
      uuids_.erase(it);
      ++erased_;
    }
  } else if (!draining_.empty()) {
    if (auto old = draining_.find(oldest.uuid);
        old != draining_.end() && old->second.insertion == insertion) {
      EraseDraining(oldest.uuid);
    }
  }
  order_.pop_front();
  // The next eviction's lookup, one insertion ahead.
  if (!order_.empty() && order_.front().other == nullptr) uuids_.prefetch(order_.front().uuid);
}

void DedupWindow::GrowIfFull() {
  if (!draining_.empty() || uuids_.capacity() < kIncrementalFrom) return;
  // One insert before absl's own rehash could start.
  const size_t capacity = uuids_.capacity();
  if (uuids_.size() + erased_ + 1 < capacity - capacity / 8) return;
  draining_.swap(uuids_);
  erased_ = 0;
  uuids_.reserve(2 * draining_.size());  // allocates; its slots are touched as they fill
  if (draining_.empty()) UuidTable().swap(draining_);  // only erased slots: nothing to move
  next_to_move_ = draining_.begin();
}

void DedupWindow::MoveSome() {
  for (int i = 0; i < kMovedPerInsert && next_to_move_ != draining_.end(); ++i) {
    auto it = next_to_move_++;  // erasing leaves the other iterators valid
    uuids_.insert(*it);
    draining_.erase(it);
  }
  if (next_to_move_ == draining_.end()) {
    UuidTable().swap(draining_);  // frees the old table
    next_to_move_ = draining_.end();
  }
}

bool DedupWindow::EraseDraining(const Uuid& uuid) {
  auto it = draining_.find(uuid);
  if (it == draining_.end()) return false;
  if (it == next_to_move_) ++next_to_move_;
  draining_.erase(it);
  if (draining_.empty()) {
    UuidTable().swap(draining_);
    next_to_move_ = draining_.end();
  }
  return true;
}

void DedupWindow::Expire(absl::Time now) {
  // Seen at or before the cutoff: out of the window (saturating, so an
  // infinite window keeps everything).
  const int64_t cutoff = absl::ToUnixNanos(now - window_);
  while (!order_.empty() && order_.front().unix_nanos <= cutoff) PopOldest();
}

}  // namespace kei::bus
