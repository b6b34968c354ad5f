// The embedded broker's durable storage: messages in segment files on disk
// (<directory>/<20-digit first sequence>.seg, CRC per record), an in-memory
// index of every retained record and a cache of the newest ones decoded, so
// live readers never touch the disk. Recovers from a torn tail on Open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "bus/log/message_log.h"

namespace kei::bus {

namespace log_internal {
class SegmentFile;
}  // namespace log_internal

enum class FsyncPolicy {
  kEveryWrite,  // fdatasync before Append returns
  kInterval,    // a background thread syncs every fsync_interval when dirty
  kNever,       // the OS decides
};

struct FileLogOptions {
  std::string directory;  // created when missing
  RetentionPolicy retention;
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  absl::Duration fsync_interval = absl::Seconds(1);
  // A new segment starts once the active one holds this much (a batch is
  // never split, so a segment can exceed it by one batch).
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Encoded bytes of the newest messages kept decoded in memory.
  uint64_t cache_bytes = uint64_t{64} << 20;
  // Recovery and I/O warnings (torn tail cut, corrupt segments set aside,
  // failed background syncs), from any thread; null: a line on stderr each.
  std::function<void(absl::string_view)> on_warning;
};

// Thread-safety: Append calls are serialized; EnforceRetention, Read,
// SequenceAtTime and the accessors run concurrently with it, whose disk I/O
// happens outside the index lock (a record becomes visible once written).
// Read calls the filter under that lock: it must not call into the log.
// Like MemoryLog, Append raises a publish_time earlier than the previous
// message's to it, and a message counts envelope + topic bytes. Publish
// times are stored in whole nanoseconds.
//
// One FileLog per directory (an flock on <directory>/LOCK). Open scans every
// segment: a torn or corrupt record ends the log there (its segment is
// truncated, later segments are renamed to *.seg.corrupt) with a warning.
// Retention is enforced once at Open with absl::Now(); records dropped by
// retention before a restart but still in the first segment are dropped again
// by that, as long as the policy did not change.
// The cache starts empty at Open: reads of older records decode from disk.
class FileLog final : public MessageLog {
 public:
  static absl::StatusOr<std::unique_ptr<FileLog>> Open(FileLogOptions options);
  ~FileLog() override;

  absl::Status Append(const std::vector<std::shared_ptr<Message>>& batch) override;
  uint64_t first_sequence() const override;
  uint64_t last_sequence() const override;
  absl::StatusOr<LogReadResult> Read(uint64_t from, size_t max_messages, const TopicFilter& filter,
                                     size_t max_scan = 65536) const override;
  uint64_t SequenceAtTime(absl::Time time) const override;
  void EnforceRetention(absl::Time now) override;
  uint64_t message_count() const override;
  uint64_t byte_count() const override;

 private:
  // One retained record; its sequence is implied by its position.
  struct Entry {
    int64_t publish_unix_nanos;
    std::shared_ptr<const std::string> topic;  // interned
    uint64_t offset;                           // in the segment holding the sequence
    uint32_t length;                           // framed record bytes
    uint32_t envelope_bytes;
  };

  explicit FileLog(FileLogOptions options);
  absl::Status Recover();
  // Ends the active segment and starts the next one.
  absl::Status Roll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Cuts the active segment back to `size` after a failed write or sync.
  absl::Status Undo(absl::Status error, uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  std::shared_ptr<const std::string> Intern(absl::string_view topic)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Drops the oldest records the policy no longer keeps as of `now` from the
  // index (and the cache, into `evicted`, for the caller to free after the
  // locks), but never the newest `keep` (a batch just appended); their
  // segment files go in EnforceRetention.
  void DropBeyondRetention(absl::Time now, size_t keep, std::vector<MessagePtr>& evicted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SyncLoop();
  void Warn(absl::string_view message) const;

  const FileLogOptions options_;
  int lock_fd_ = -1;

  // Serializes writers; the active segment's size only changes under it.
  absl::Mutex write_mu_;
  std::shared_ptr<log_internal::SegmentFile> active_ ABSL_GUARDED_BY(write_mu_);
  int64_t last_nanos_ ABSL_GUARDED_BY(write_mu_) = 0;
  absl::Status broken_ ABSL_GUARDED_BY(write_mu_);  // a failed write could not be undone
  absl::flat_hash_map<absl::string_view, std::shared_ptr<const std::string>> topics_
      ABSL_GUARDED_BY(write_mu_);  // keys view the values
  size_t prune_topics_at_ ABSL_GUARDED_BY(write_mu_) = 1024;

  // Guards what readers see.
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<log_internal::SegmentFile>> segments_ ABSL_GUARDED_BY(mu_);
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);  // sequences first..last
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<MessagePtr> cache_ ABSL_GUARDED_BY(mu_);  // the newest entries' messages
  uint64_t cache_bytes_ ABSL_GUARDED_BY(mu_) = 0;

  // The background fdatasync of kInterval.
  absl::Mutex sync_mu_;
  std::shared_ptr<log_internal::SegmentFile> sync_target_ ABSL_GUARDED_BY(sync_mu_);
  bool dirty_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::thread sync_thread_;
};

}  // namespace kei::bus
