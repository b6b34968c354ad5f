// Publish de-duplication: the envelope ids seen within a time window, with the
// sequence each was stored at, so a publisher that retries after a lost
// acknowledgement gets the original's sequence instead of a second copy.
// Bounded by time and by count (the oldest ids go first). Each id is stored
// once: the insertion-order queue points at the map's (node-stable) keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kei::bus {

class DedupWindow {
 public:
  DedupWindow(absl::Duration window, size_t max_ids) : window_(window), max_ids_(max_ids) {}

  // The sequence `id` was stored at, if it was seen within the window.
  std::optional<uint64_t> Find(absl::string_view id, absl::Time now);
  // Remembers `id` (seen at `time`, stored at `sequence`).
  void Insert(absl::string_view id, uint64_t sequence, absl::Time time);
  size_t size() const { return ids_.size(); }
  absl::Duration window() const { return window_; }

 private:
  struct Seen {
    uint64_t sequence;
    absl::Time time;
    uint64_t insertion;  // the newest order_ entry for this id
  };
  using Ids = absl::node_hash_map<std::string, Seen>;
  struct Inserted {
    uint64_t insertion;
    absl::Time time;
    Ids::value_type* entry;  // stays valid: erased only when its last entry pops
  };

  void Expire(absl::Time now);
  void PopOldest();

  const absl::Duration window_;
  const size_t max_ids_;
  Ids ids_;
  std::deque<Inserted> order_;  // insertion order
  uint64_t insertions_ = 0;
};

}  // namespace kei::bus
