// Publish de-duplication: the envelope ids seen within a time window, with the
// sequence each was stored at, so a publisher that retries after a lost
// acknowledgement gets the original's sequence instead of a second copy.
// Bounded by time and by count (the oldest ids go first).
//
// Every publish looks here once and, when new, adds an id, so the common id
// (a canonical UUID, which KEIBusClient and the broker generate) is kept as
// its 16 bytes in a flat table: no allocation and one cache miss per lookup,
// where a table of strings costs a node, a string and two misses. Other ids
// are kept as strings. Batches prefetch (Prefetch) and evictions prefetch the
// next oldest id, so most lookups find their memory already loading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kei::bus {

class DedupWindow {
 public:
  DedupWindow(absl::Duration window, size_t max_ids) : window_(window), max_ids_(max_ids) {}

  // The sequence `id` was stored at, if it was seen within the window.
  std::optional<uint64_t> Find(absl::string_view id, absl::Time now);
  // A hint before Find or Insert of `id`: starts loading the table memory its
  // lookup touches, so a batch that prefetches every id first overlaps its
  // cache misses instead of waiting for each in turn.
  void Prefetch(absl::string_view id) const;
  // Remembers `id` (seen at `time`, stored at `sequence`).
  void Insert(absl::string_view id, uint64_t sequence, absl::Time time);
  size_t size() const { return uuids_.size() + others_.size(); }
  absl::Duration window() const { return window_; }

 private:
  // The 128 bits of a UUID in its canonical text form (lowercase hex, 8-4-4-4-12);
  // only that form maps here, so distinct ids never share a key.
  struct Uuid {
    uint64_t high = 0;
    uint64_t low = 0;
    friend bool operator==(const Uuid& a, const Uuid& b) {
      return a.high == b.high && a.low == b.low;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Uuid& u) {
      return H::combine(std::move(h), u.high, u.low);
    }
  };
  static std::optional<Uuid> ParseUuid(absl::string_view id);

  struct Seen {
    uint64_t sequence;
    uint64_t insertion;  // the newest order_ entry for this id
  };
  using Others = absl::node_hash_map<std::string, Seen>;
  struct Inserted {
    uint64_t insertion;
    absl::Time time;
    Uuid uuid;                          // when `other` is null
    const Others::value_type* other;  // stays valid: erased only when its last entry pops
  };

  void Expire(absl::Time now);
  void PopOldest();

  const absl::Duration window_;
  const size_t max_ids_;
  absl::flat_hash_map<Uuid, Seen> uuids_;
  Others others_;
  std::deque<Inserted> order_;  // insertion order
  uint64_t insertions_ = 0;
};

}  // namespace kei::bus
