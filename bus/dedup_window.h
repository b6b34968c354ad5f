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
// next oldest id, so most lookups find their memory already loading. A full
// window is a million ids by default: the table sits on huge pages, so a
// lookup's cache miss comes without a page walk, and the insertion-order ring
// takes 32 bytes per id. An id is parsed once per publish (Key). A large table
// grows incrementally: a new table of twice the size takes the inserts while a
// few entries of the old one move over with each, so no publish waits for a
// whole rehash (tens of milliseconds at a million ids, under the broker's
// publish lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bus/huge_page_allocator.h"

namespace kei::bus {

class DedupWindow {
 public:
  // An id as the window keys it (a UUID's 128 bits, or else the text), made
  // once per publish and used for each step. It views the caller's id,
  // which must outlive the key.
  class Key {
   public:
    Key() = default;  // the empty id
    explicit Key(absl::string_view id);

   private:
    friend class DedupWindow;
    bool is_uuid_ = false;
    uint64_t high_ = 0, low_ = 0;  // the UUID's bits, when is_uuid_
    absl::string_view text_;
  };

  DedupWindow(absl::Duration window, size_t max_ids) : window_(window), max_ids_(max_ids) {}

  // The sequence the id was stored at, if it was seen within the window.
  std::optional<uint64_t> Find(const Key& key, absl::Time now);
  std::optional<uint64_t> Find(absl::string_view id, absl::Time now) { return Find(Key(id), now); }
  // A hint before Find or Insert of `key`: starts loading the table memory its
  // lookup touches, so a batch that prefetches every id first overlaps its
  // cache misses instead of waiting for each in turn.
  void Prefetch(const Key& key) const;
  // Remembers the id (seen at `time`, stored at `sequence`).
  void Insert(const Key& key, uint64_t sequence, absl::Time time);
  void Insert(absl::string_view id, uint64_t sequence, absl::Time time) {
    Insert(Key(id), sequence, time);
  }
  size_t size() const { return uuids_.size() + draining_.size() + others_.size(); }
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

  struct Seen {
    uint64_t sequence;
    uint64_t insertion;  // the newest order_ entry for this id
  };
  using Others = absl::node_hash_map<std::string, Seen>;
  // One per insertion, oldest first: 32 bytes, since a full window holds
  // max_ids of them and every publish writes one. An entry's insertion number
  // is its place in order_ (insertions_ counts them all).
  struct Inserted {
    int64_t unix_nanos;               // when it was seen
    Uuid uuid;                        // when `other` is null
    const Others::value_type* other;  // stays valid: erased only when its last entry pops
  };

  using UuidTable = absl::flat_hash_map<Uuid, Seen, absl::Hash<Uuid>, std::equal_to<Uuid>,
                                        HugePageAllocator<std::pair<const Uuid, Seen>>>;

  static Uuid UuidOf(const Key& key) { return Uuid{key.high_, key.low_}; }
  void Expire(absl::Time now);
  void PopOldest();
  // Incremental growth: before an insert that could make uuids_ rehash
  // (absl's tables rehash when live entries plus erased slots reach 7/8 of
  // the capacity: to grow, or to clear the erased slots in place), uuids_
  // becomes draining_ and a fresh table for twice its entries replaces it;
  // each insert then moves a few of draining_'s entries over. An id is in
  // one of the two tables, never both.
  void GrowIfFull();
  void MoveSome();
  // Removes `uuid` from draining_, if it is there.
  bool EraseDraining(const Uuid& uuid);

  const absl::Duration window_;
  const size_t max_ids_;
  // Tens of MiB read at random: on huge pages (huge_page_allocator.h).
  UuidTable uuids_;
  UuidTable draining_;                 // empty unless growing
  UuidTable::iterator next_to_move_;   // in draining_, while it is not empty
  size_t erased_ = 0;                  // from uuids_ since it was made: its erased slots, at most
  Others others_;
  std::deque<Inserted> order_;  // insertion order
  uint64_t insertions_ = 0;
};

}  // namespace kei::bus
