#include "bus/log/file_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bus/log/record_codec.h"
#include "bus/log/segment_file.h"

namespace kei::bus {
namespace {

namespace fs = std::filesystem;
using log_internal::SegmentFile;

absl::Status FsError(absl::string_view op, const fs::path& path, const std::error_code& ec) {
  return absl::ErrnoToStatus(ec.value(), absl::StrCat(op, " ", path.string()));
}

// An flock on <directory>/LOCK, held while its descriptor stays open.
absl::StatusOr<int> LockDirectory(const std::string& directory) {
  const std::string path = absl::StrCat(directory, "/LOCK");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("opening ", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("bus log ", directory, " is already open (", path, " is locked)"));
  }
  return fd;
}

// The directory's segment files by first sequence; FAILED_PRECONDITION for a
// *.seg file with another name.
absl::StatusOr<std::vector<std::pair<uint64_t, fs::path>>> ListSegments(
    const std::string& directory) {
  std::vector<std::pair<uint64_t, fs::path>> files;
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!absl::EndsWith(name, ".seg")) continue;
    const std::optional<uint64_t> first = log_internal::ParseSegmentFileName(name);
    if (!first.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          it->path().string(), ": not a bus log segment name (<20-digit first sequence>.seg)"));
    }
    files.emplace_back(*first, it->path());
  }
  if (ec) return FsError("listing", directory, ec);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileLog>> FileLog::Open(FileLogOptions options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("bus log: no directory");
  if (options.segment_bytes == 0) return absl::InvalidArgumentError("bus log: segment_bytes is 0");
  if (options.fsync == FsyncPolicy::kInterval && options.fsync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("bus log: fsync_interval must be positive");
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) return FsError("creating", options.directory, ec);
  std::unique_ptr<FileLog> log(new FileLog(std::move(options)));
  if (auto s = log->Recover(); !s.ok()) return s;
  log->EnforceRetention(absl::Now());
  if (log->options_.fsync == FsyncPolicy::kInterval) {
    log->sync_thread_ = std::thread([raw = log.get()] { raw->SyncLoop(); });
  }
  return log;
}

FileLog::FileLog(FileLogOptions options) : options_(std::move(options)) {}

FileLog::~FileLog() {
  if (sync_thread_.joinable()) {
    {
      absl::MutexLock lock(&sync_mu_);
      stopping_ = true;
    }
    sync_thread_.join();
    absl::MutexLock lock(&sync_mu_);
    if (dirty_) {
      if (auto s = sync_target_->Sync(); !s.ok()) Warn(s.message());
    }
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

absl::Status FileLog::Recover() {
  absl::StatusOr<int> lock_fd = LockDirectory(options_.directory);
  if (!lock_fd.ok()) return lock_fd.status();
  lock_fd_ = *lock_fd;
  absl::StatusOr<std::vector<std::pair<uint64_t, fs::path>>> files =
      ListSegments(options_.directory);
  if (!files.ok()) return files.status();

  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  uint64_t next = files->empty() ? 1 : files->front().first;  // the next sequence expected
  size_t kept = 0;                                            // files before this one hold the log
  for (; kept < files->size(); ++kept) {
    const auto& [first, path] = (*files)[kept];
    if (first != next) {
      Warn(absl::StrCat(path.string(), " starts at sequence ", first, ", expected ", next));
      break;
    }
    absl::StatusOr<std::shared_ptr<SegmentFile>> segment = SegmentFile::Open(path.string(), first);
    if (!segment.ok()) return segment.status();
    std::string problem;
    absl::StatusOr<uint64_t> end = (*segment)->Scan(
        [&](uint64_t offset, absl::string_view record) -> absl::Status {
          absl::StatusOr<log_internal::RecordView> view =
              log_internal::ParsePayload(record.substr(log_internal::kRecordFrameSize));
          if (!view.ok()) return view.status();
          if (view->sequence != next) {
            return absl::DataLossError(
                absl::StrCat("record has sequence ", view->sequence, ", expected ", next));
          }
          entries_.push_back({view->publish_unix_nanos, Intern(view->topic), offset,
                              static_cast<uint32_t>(record.size()),
                              static_cast<uint32_t>(view->envelope.size())});
          bytes_ += view->envelope.size() + view->topic.size();
          last_nanos_ = view->publish_unix_nanos;
          ++next;
          return absl::OkStatus();
        },
        &problem);
    if (!end.ok()) return end.status();
    segments_.push_back(*segment);
    if (problem.empty()) continue;
    const uint64_t cut = (*segment)->size() - *end;
    if (auto s = (*segment)->Truncate(*end); !s.ok()) return s;
    if (options_.fsync != FsyncPolicy::kNever) {
      if (auto s = (*segment)->Sync(); !s.ok()) return s;
    }
    Warn(absl::StrCat(path.string(), ": ", problem, " at offset ", *end, "; cut ", cut,
                      " bytes, the log ends at sequence ", next - 1));
    ++kept;
    break;
  }
  for (size_t i = kept; i < files->size(); ++i) {
    const fs::path& path = (*files)[i].second;
    fs::path aside = path;
    aside += ".corrupt";
    std::error_code ec;
    fs::rename(path, aside, ec);
    if (ec) return FsError("renaming", path, ec);
    Warn(absl::StrCat("set ", path.string(), " aside as ", aside.filename().string(),
                      ": it does not continue the log"));
  }
  // Renamed segments must not come back after a crash to follow new records.
  if (kept < files->size() && options_.fsync != FsyncPolicy::kNever) {
    if (auto s = log_internal::SyncDirectory(options_.directory); !s.ok()) return s;
  }
  if (segments_.empty()) {
    absl::StatusOr<std::shared_ptr<SegmentFile>> segment =
        SegmentFile::Create(options_.directory, next, options_.fsync != FsyncPolicy::kNever);
    if (!segment.ok()) return segment.status();
    segments_.push_back(*segment);
  }
  last_sequence_ = next - 1;
  active_ = segments_.back();
  absl::MutexLock sync_lock(&sync_mu_);
  sync_target_ = active_;
  return absl::OkStatus();
}

absl::Status FileLog::Append(const std::vector<std::shared_ptr<Message>>& batch) {
  if (batch.empty()) return absl::OkStatus();
  std::vector<MessagePtr> evicted;  // freed after both locks
  absl::MutexLock write_lock(&write_mu_);
  if (!broken_.ok()) return broken_;
  if (active_->size() >= options_.segment_bytes &&
      active_->size() > log_internal::kSegmentHeaderSize) {
    if (auto s = Roll(); !s.ok()) return absl::UnavailableError(s.message());
  }
  uint64_t sequence;  // the batch's first
  {
    absl::ReaderMutexLock lock(&mu_);
    sequence = last_sequence_ + 1;
  }
  const uint64_t base = active_->size();
  std::string buffer;
  std::vector<Entry> entries;
  entries.reserve(batch.size());
  int64_t nanos = last_nanos_;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Message& message = *batch[i];
    nanos = std::max(nanos, absl::ToUnixNanos(message.publish_time));
    const size_t offset = buffer.size();
    absl::StatusOr<size_t> envelope_bytes =
        log_internal::AppendRecord(message, sequence + i, nanos, &buffer);
    if (!envelope_bytes.ok()) return envelope_bytes.status();
    entries.push_back({nanos, Intern(message.topic), base + offset,
                       static_cast<uint32_t>(buffer.size() - offset),
                       static_cast<uint32_t>(*envelope_bytes)});
  }
  if (auto s = active_->Append(buffer); !s.ok()) return Undo(std::move(s), base);
  if (options_.fsync == FsyncPolicy::kEveryWrite) {
    if (auto s = active_->Sync(); !s.ok()) return Undo(std::move(s), base);
  } else if (options_.fsync == FsyncPolicy::kInterval) {
    absl::MutexLock lock(&sync_mu_);
    dirty_ = true;
  }
  last_nanos_ = nanos;
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->sequence = sequence + i;
    batch[i]->publish_time = absl::FromUnixNanos(entries[i].publish_unix_nanos);
  }

  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < batch.size(); ++i) {
    bytes_ += entries[i].envelope_bytes + entries[i].topic->size();
    cache_bytes_ += entries[i].length;
    entries_.push_back(std::move(entries[i]));
    cache_.push_back(batch[i]);
  }
  last_sequence_ += batch.size();
  DropBeyondRetention(absl::FromUnixNanos(last_nanos_), batch.size(), evicted);
  while (cache_bytes_ > options_.cache_bytes && !cache_.empty()) {
    cache_bytes_ -= entries_[entries_.size() - cache_.size()].length;
    evicted.push_back(std::move(cache_.front()));
    cache_.pop_front();
  }
  return absl::OkStatus();
}

absl::Status FileLog::Roll() {
  if (options_.fsync != FsyncPolicy::kNever) {
    if (auto s = active_->Sync(); !s.ok()) return s;
  }
  uint64_t next;
  {
    absl::ReaderMutexLock lock(&mu_);
    next = last_sequence_ + 1;
  }
  absl::StatusOr<std::shared_ptr<SegmentFile>> segment =
      SegmentFile::Create(options_.directory, next, options_.fsync != FsyncPolicy::kNever);
  if (!segment.ok()) return segment.status();
  active_ = *segment;
  {
    absl::MutexLock lock(&mu_);
    segments_.push_back(active_);
  }
  absl::MutexLock lock(&sync_mu_);
  sync_target_ = active_;
  dirty_ = false;
  return absl::OkStatus();
}

absl::Status FileLog::Undo(absl::Status error, uint64_t size) {
  if (auto s = active_->Truncate(size); !s.ok()) {
    broken_ = absl::InternalError(absl::StrCat("bus log is unusable: ", error.message(),
                                               ", and undoing it failed: ", s.message()));
    return broken_;
  }
  return absl::UnavailableError(error.message());
}

std::shared_ptr<const std::string> FileLog::Intern(absl::string_view topic) {
  if (auto it = topics_.find(topic); it != topics_.end()) return it->second;
  if (topics_.size() >= prune_topics_at_) {
    // Drop topics no retained record uses any more.
    absl::erase_if(topics_, [](const auto& kv) { return kv.second.use_count() == 1; });
    prune_topics_at_ = std::max<size_t>(1024, 2 * topics_.size());
  }
  auto interned = std::make_shared<const std::string>(topic);
  topics_.emplace(*interned, interned);
  return interned;
}

uint64_t FileLog::first_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_sequence_ + 1 - entries_.size();
}

uint64_t FileLog::last_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_sequence_;
}

absl::StatusOr<LogReadResult> FileLog::Read(uint64_t from, size_t max_messages,
                                            const TopicFilter& filter, size_t max_scan) const {
  // A record to decode from disk into result.messages[slot].
  struct DiskRead {
    size_t slot;
    uint64_t sequence;
    std::shared_ptr<SegmentFile> segment;
    uint64_t offset;
    uint32_t length;
  };
  LogReadResult result;
  std::vector<DiskRead> reads;
  {
    absl::ReaderMutexLock lock(&mu_);
    const uint64_t first = last_sequence_ + 1 - entries_.size();
    result.first_sequence = first;
    result.next_sequence = std::max(from, first);
    if (result.next_sequence > last_sequence_) return result;
    size_t i = result.next_sequence - first;
    const size_t end = i + std::min(max_scan, entries_.size() - i);
    const size_t cached_from = entries_.size() - cache_.size();
    size_t segment = segments_.size();  // found at the first disk read
    for (; i < end && result.messages.size() < max_messages; ++i) {
      const Entry& entry = entries_[i];
      if (filter && !filter(*entry.topic)) continue;
      if (i >= cached_from) {
        result.messages.push_back(cache_[i - cached_from]);
        continue;
      }
      const uint64_t sequence = first + i;
      if (segment == segments_.size()) {
        segment =
            std::partition_point(segments_.begin(), segments_.end(),
                                 [&](const auto& s) { return s->first_sequence() <= sequence; }) -
            segments_.begin() - 1;
      }
      while (segment + 1 < segments_.size() &&
             segments_[segment + 1]->first_sequence() <= sequence) {
        ++segment;
      }
      reads.push_back(
          {result.messages.size(), sequence, segments_[segment], entry.offset, entry.length});
      result.messages.emplace_back();
    }
    result.next_sequence = first + i;
  }
  // Adjacent records of one segment are read with one pread.
  std::string buffer;
  for (size_t run = 0, run_end = 0; run < reads.size(); run = run_end) {
    run_end = run + 1;
    while (run_end < reads.size() && reads[run_end].segment == reads[run].segment &&
           reads[run_end].offset == reads[run_end - 1].offset + reads[run_end - 1].length) {
      ++run_end;
    }
    const uint64_t start = reads[run].offset;
    const DiskRead& last = reads[run_end - 1];
    if (auto s = reads[run].segment->ReadAt(start, last.offset + last.length - start, &buffer);
        !s.ok()) {
      return s;
    }
    for (size_t k = run; k < run_end; ++k) {
      const DiskRead& read = reads[k];
      absl::StatusOr<log_internal::RecordView> record = log_internal::ParseRecord(
          absl::string_view(buffer).substr(read.offset - start, read.length));
      if (record.ok() && record->sequence != read.sequence) {
        record = absl::DataLossError(absl::StrCat("found sequence ", record->sequence));
      }
      if (!record.ok()) {
        return absl::DataLossError(absl::StrCat(read.segment->path(), ": sequence ", read.sequence,
                                                " at offset ", read.offset, ": ",
                                                record.status().message()));
      }
      absl::StatusOr<MessagePtr> message = log_internal::DecodeMessage(*record);
      if (!message.ok()) return message.status();
      result.messages[read.slot] = *std::move(message);
    }
  }
  return result;
}

uint64_t FileLog::SequenceAtTime(absl::Time time) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = std::partition_point(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return absl::FromUnixNanos(e.publish_unix_nanos) < time;
  });
  return last_sequence_ + 1 - (entries_.end() - it);
}

void FileLog::EnforceRetention(absl::Time now) {
  std::vector<MessagePtr> evicted;  // freed after the lock
  std::vector<std::shared_ptr<SegmentFile>> emptied;
  {
    absl::MutexLock lock(&mu_);
    DropBeyondRetention(now, 0, evicted);
    const uint64_t first = last_sequence_ + 1 - entries_.size();
    while (segments_.size() > 1 && segments_[1]->first_sequence() <= first) {
      emptied.push_back(std::move(segments_.front()));
      segments_.pop_front();
    }
  }
  for (const auto& segment : emptied) {
    std::error_code ec;
    if (!fs::remove(segment->path(), ec)) {
      Warn(absl::StrCat("removing ", segment->path(), ": ", ec ? ec.message() : "already gone"));
    }
  }
}

void FileLog::DropBeyondRetention(absl::Time now, size_t keep,
                                  std::vector<MessagePtr>& evicted) {
  const RetentionPolicy& retention = options_.retention;
  const bool by_age = retention.max_age > absl::ZeroDuration();
  while (entries_.size() > keep &&
         ((retention.max_messages != 0 && entries_.size() > retention.max_messages) ||
          (retention.max_bytes != 0 && bytes_ > retention.max_bytes) ||
          (by_age &&
           absl::FromUnixNanos(entries_.front().publish_unix_nanos) < now - retention.max_age))) {
    const Entry& entry = entries_.front();
    bytes_ -= entry.envelope_bytes + entry.topic->size();
    if (cache_.size() == entries_.size()) {
      cache_bytes_ -= entry.length;
      evicted.push_back(std::move(cache_.front()));
      cache_.pop_front();
    }
    entries_.pop_front();
  }
}

uint64_t FileLog::message_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

uint64_t FileLog::byte_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return bytes_;
}

void FileLog::SyncLoop() {
  sync_mu_.Lock();
  while (!sync_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.fsync_interval)) {
    if (!dirty_) continue;
    dirty_ = false;
    std::shared_ptr<SegmentFile> target = sync_target_;
    sync_mu_.Unlock();
    absl::Status status = target->Sync();
    if (!status.ok()) Warn(status.message());
    sync_mu_.Lock();
  }
  sync_mu_.Unlock();
}

void FileLog::Warn(absl::string_view message) const {
  if (options_.on_warning) {
    options_.on_warning(message);
  } else {
    std::cerr << "bus log: " << message << std::endl;
  }
}

}  // namespace kei::bus
