#include "bus/log/segment_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bus/log/record_codec.h"

namespace kei::bus::log_internal {
namespace {

constexpr absl::string_view kSuffix = ".seg";
constexpr size_t kScanChunk = 1 << 20;

absl::Status IoError(absl::string_view op, absl::string_view path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(op, " ", path));
}

}  // namespace

std::string SegmentFileName(uint64_t first_sequence) {
  return absl::StrFormat("%020u%s", first_sequence, kSuffix);
}

std::optional<uint64_t> ParseSegmentFileName(absl::string_view name) {
  if (name.size() != 20 + kSuffix.size() || !absl::EndsWith(name, kSuffix)) return std::nullopt;
  const absl::string_view digits = name.substr(0, 20);
  uint64_t sequence = 0;
  if (!std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &sequence) || sequence == 0) {
    return std::nullopt;
  }
  return sequence;
}

absl::StatusOr<std::shared_ptr<SegmentFile>> SegmentFile::Create(const std::string& directory,
                                                                 uint64_t first_sequence,
                                                                 bool sync) {
  std::string path = absl::StrCat(directory, "/", SegmentFileName(first_sequence));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("creating", path);
  std::shared_ptr<SegmentFile> file(new SegmentFile(fd, std::move(path), first_sequence, 0));
  absl::Status status = file->Append(SegmentHeader());
  if (status.ok() && sync) status = file->Sync();
  if (status.ok() && sync) status = SyncDirectory(directory);
  if (!status.ok()) {
    ::unlink(file->path().c_str());  // so that a retry can create it again
    return status;
  }
  return file;
}

absl::StatusOr<std::shared_ptr<SegmentFile>> SegmentFile::Open(std::string path,
                                                               uint64_t first_sequence) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return IoError("opening", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status status = IoError("inspecting", path);
    ::close(fd);
    return status;
  }
  std::shared_ptr<SegmentFile> file(new SegmentFile(fd, path, first_sequence, st.st_size));
  const uint64_t header_size = std::min<uint64_t>(file->size(), kSegmentHeaderSize);
  std::string header;
  if (auto s = file->ReadAt(0, header_size, &header); !s.ok()) return s;
  const std::string expected = SegmentHeader();
  if (header_size < kSegmentHeaderSize && absl::StartsWith(expected, header)) {
    if (auto s = file->Truncate(0); !s.ok()) return s;
    if (auto s = file->Append(expected); !s.ok()) return s;
    return file;
  }
  if (auto s = CheckSegmentHeader(header); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", s.message()));
  }
  return file;
}

SegmentFile::~SegmentFile() { ::close(fd_); }

absl::Status SegmentFile::Append(absl::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, size_ + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("writing", path_);
    done += static_cast<size_t>(n);
  }
  size_ += data.size();
  return absl::OkStatus();
}

absl::Status SegmentFile::Sync() {
  if (::fdatasync(fd_) != 0) return IoError("syncing", path_);
  return absl::OkStatus();
}

absl::Status SegmentFile::Truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return IoError("truncating", path_);
  size_ = size;
  return absl::OkStatus();
}

absl::Status SegmentFile::ReadAt(uint64_t offset, size_t length, std::string* out) const {
  out->resize(length);
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd_, out->data() + done, length - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("reading", path_);
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat(path_, " ends at ", offset + done, ", before ", offset + length));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SegmentFile::Scan(const RecordCallback& on_record,
                                           std::string* problem) const {
  problem->clear();
  std::string buffer;
  uint64_t buffer_offset = 0;  // file offset of buffer[0]
  // The bytes [offset, offset + length), read ahead in chunks.
  auto view = [&](uint64_t offset, size_t length) -> absl::StatusOr<absl::string_view> {
    if (offset < buffer_offset || offset + length > buffer_offset + buffer.size()) {
      buffer_offset = offset;
      const size_t chunk =
          std::max<uint64_t>(length, std::min<uint64_t>(kScanChunk, size_ - offset));
      if (auto s = ReadAt(offset, chunk, &buffer); !s.ok()) return s;
    }
    return absl::string_view(buffer).substr(offset - buffer_offset, length);
  };
  uint64_t offset = kSegmentHeaderSize;
  while (offset < size_) {
    if (size_ - offset < kRecordFrameSize) {
      *problem = "partial record header";
      break;
    }
    absl::StatusOr<absl::string_view> frame = view(offset, kRecordFrameSize);
    if (!frame.ok()) return frame.status();
    const uint64_t length = LoadU32(frame->data());
    if (length < kMinPayloadSize || length > kMaxPayloadSize ||
        length > size_ - offset - kRecordFrameSize) {
      *problem = absl::StrCat("record length ", length, " does not fit");
      break;
    }
    absl::StatusOr<absl::string_view> record = view(offset, kRecordFrameSize + length);
    if (!record.ok()) return record.status();
    if (LoadU32(record->data() + 4) != PayloadCrc(record->substr(kRecordFrameSize))) {
      *problem = "record fails its CRC";
      break;
    }
    if (auto s = on_record(offset, *record); !s.ok()) {
      *problem = std::string(s.message());
      break;
    }
    offset += record->size();
  }
  return offset;
}

absl::Status SyncDirectory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("opening", directory);
  absl::Status status;
  if (::fsync(fd) != 0) status = IoError("syncing", directory);
  ::close(fd);
  return status;
}

}  // namespace kei::bus::log_internal
