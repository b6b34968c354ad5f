// One FileLog segment on disk: `<directory>/<20-digit first sequence>.seg`,
// a header and then framed records (record_codec.h). Wraps the file
// descriptor and the POSIX calls so errors come back as absl::Status with the
// errno text, and scans records for recovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kei::bus::log_internal {

// The file name of the segment whose first record is `first_sequence`, and
// back (nullopt for a name that is not <20 digits>.seg, or sequence 0).
std::string SegmentFileName(uint64_t first_sequence);
std::optional<uint64_t> ParseSegmentFileName(absl::string_view name);

// pread/pwrite at explicit offsets, so concurrent readers need no lock; the
// appending thread alone changes the size. Closed on destruction; readers
// keep a shared_ptr so a deleted segment stays readable until they finish.
class SegmentFile {
 public:
  // A new file holding only the header; `sync` also flushes it and the
  // directory entry.
  static absl::StatusOr<std::shared_ptr<SegmentFile>> Create(const std::string& directory,
                                                             uint64_t first_sequence, bool sync);
  // An existing file; FAILED_PRECONDITION naming the path when its header is
  // not a segment's. A header cut short (a crash while creating) is rewritten.
  static absl::StatusOr<std::shared_ptr<SegmentFile>> Open(std::string path,
                                                           uint64_t first_sequence);

  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;
  ~SegmentFile();

  uint64_t first_sequence() const { return first_sequence_; }
  const std::string& path() const { return path_; }
  // Bytes in the file, header included.
  uint64_t size() const { return size_; }

  // Writes `data` at the end in one call (looping only on short writes).
  // On failure size() is unchanged; the caller truncates back to it.
  absl::Status Append(absl::string_view data);
  absl::Status Sync();
  absl::Status Truncate(uint64_t size);
  absl::Status ReadAt(uint64_t offset, size_t length, std::string* out) const;

  // Calls `on_record(offset, record)` for each well-formed record in order
  // (framing and CRC checked). Returns the offset where the good records end
  // and, in `problem`, why scanning stopped early ("" at a clean end). A
  // non-OK status from `on_record` stops the scan there with its message.
  // The returned status is an I/O error only.
  using RecordCallback = std::function<absl::Status(uint64_t offset, absl::string_view record)>;
  absl::StatusOr<uint64_t> Scan(const RecordCallback& on_record, std::string* problem) const;

 private:
  SegmentFile(int fd, std::string path, uint64_t first_sequence, uint64_t size)
      : fd_(fd), path_(std::move(path)), first_sequence_(first_sequence), size_(size) {}

  const int fd_;
  const std::string path_;
  const uint64_t first_sequence_;
  uint64_t size_;
};

// fsync of a directory, so created, renamed and removed entries persist.
absl::Status SyncDirectory(const std::string& directory);

}  // namespace kei::bus::log_internal
