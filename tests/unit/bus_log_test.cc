// The embedded broker's storage: the MessageLog contract on MemoryLog and
// FileLog alike (order, sequences, filters, scan limits, time lookup,
// retention, concurrent readers), then what only FileLog does: reopening,
// torn-tail and corruption recovery, undoing a failed write, segment rolling
// and deletion, reads from disk past the cache, and refusing foreign files.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bus/log/file_log.h"
#include "bus/log/memory_log.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace kei::bus {
namespace {

namespace fs = std::filesystem;
using Batch = std::vector<std::shared_ptr<Message>>;

absl::Time T(int seconds) { return absl::FromUnixSeconds(1700000000 + seconds); }

std::shared_ptr<Message> Msg(absl::string_view topic, absl::string_view body,
                             absl::Time time = T(0)) {
  auto message = NewMessage();
  message->topic = std::string(topic);
  message->publish_time = time;
  message->mutable_envelope().set_id(absl::StrCat("id-", body));
  message->mutable_envelope().set_source("kei://test");
  message->mutable_envelope().set_binary_data(std::string(body));
  (*message->mutable_envelope().mutable_extensions())["k"] = "v";
  return message;
}

uint64_t Bytes(const Message& message) {
  return message.envelope().ByteSizeLong() + message.topic.size();
}

void ExpectSame(const Message& expected, const Message& actual) {
  EXPECT_EQ(expected.topic, actual.topic);
  EXPECT_EQ(expected.sequence, actual.sequence);
  EXPECT_EQ(expected.publish_time, actual.publish_time);
  EXPECT_EQ(expected.reply_to, actual.reply_to);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(expected.envelope(), actual.envelope()))
      << actual.envelope().DebugString();
}

std::vector<uint64_t> Sequences(const LogReadResult& result) {
  std::vector<uint64_t> sequences;
  for (const auto& message : result.messages) sequences.push_back(message->sequence);
  return sequences;
}

// A fresh directory per test under $TEST_TMPDIR.
std::string ScratchDir() {
  const char* root = std::getenv("TEST_TMPDIR");
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat(test->test_suite_name(), ".", test->name());
  std::replace(name.begin(), name.end(), '/', '_');
  std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/bus_log_", name);
  fs::remove_all(dir);
  return dir;
}

std::vector<std::string> SegmentNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".seg") || absl::EndsWith(name, ".corrupt")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// --- The contract, on both logs ---

class MessageLogTest : public ::testing::TestWithParam<bool /*file*/> {
 protected:
  std::unique_ptr<MessageLog> Make(RetentionPolicy retention = {}) {
    if (!GetParam()) return std::make_unique<MemoryLog>(retention);
    FileLogOptions options;
    options.directory = ScratchDir();
    options.retention = retention;
    options.fsync = FsyncPolicy::kNever;
    options.segment_bytes = 4096;
    options.cache_bytes = 2048;  // most reads decode from disk
    absl::StatusOr<std::unique_ptr<FileLog>> log = FileLog::Open(options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }
};

TEST_P(MessageLogTest, EmptyLog) {
  auto log = Make();
  EXPECT_EQ(log->first_sequence(), 1u);
  EXPECT_EQ(log->last_sequence(), 0u);
  EXPECT_EQ(log->message_count(), 0u);
  EXPECT_EQ(log->byte_count(), 0u);
  EXPECT_EQ(log->SequenceAtTime(T(0)), 1u);
  absl::StatusOr<LogReadResult> read = log->Read(0, 10, nullptr);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->messages.empty());
  EXPECT_EQ(read->next_sequence, 1u);
  EXPECT_TRUE(log->Append({}).ok());
  EXPECT_EQ(log->last_sequence(), 0u);
}

TEST_P(MessageLogTest, AppendAssignsSequencesAndReadsInOrder) {
  auto log = Make();
  Batch first = {Msg("a", "1", T(1)), Msg("b", "2", T(2))};
  first[1]->reply_to = "_INBOX.x";
  Batch second = {Msg("a", "3", T(3))};
  ASSERT_TRUE(log->Append(first).ok());
  ASSERT_TRUE(log->Append(second).ok());
  EXPECT_EQ(first[0]->sequence, 1u);
  EXPECT_EQ(first[1]->sequence, 2u);
  EXPECT_EQ(second[0]->sequence, 3u);
  EXPECT_EQ(log->first_sequence(), 1u);
  EXPECT_EQ(log->last_sequence(), 3u);
  EXPECT_EQ(log->message_count(), 3u);
  EXPECT_EQ(log->byte_count(), Bytes(*first[0]) + Bytes(*first[1]) + Bytes(*second[0]));

  absl::StatusOr<LogReadResult> read = log->Read(0, 10, nullptr);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->messages.size(), 3u);
  ExpectSame(*first[0], *read->messages[0]);
  ExpectSame(*first[1], *read->messages[1]);
  ExpectSame(*second[0], *read->messages[2]);
  EXPECT_EQ(read->next_sequence, 4u);

  read = log->Read(2, 1, nullptr);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Sequences(*read), std::vector<uint64_t>{2});
  EXPECT_EQ(read->next_sequence, 3u);
}

TEST_P(MessageLogTest, FilterMaxMessagesMaxScanAndNextSequence) {
  auto log = Make();
  Batch batch;
  for (int i = 1; i <= 10; ++i) batch.push_back(Msg(i % 3 == 0 ? "x" : "y", absl::StrCat(i)));
  ASSERT_TRUE(log->Append(batch).ok());
  const TopicFilter only_x = [](absl::string_view topic) { return topic == "x"; };

  absl::StatusOr<LogReadResult> read = log->Read(1, 100, only_x);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Sequences(*read), (std::vector<uint64_t>{3, 6, 9}));
  EXPECT_EQ(read->next_sequence, 11u);  // past the non-matching tail too

  read = log->Read(1, 2, only_x);  // stops after the second match
  EXPECT_EQ(Sequences(*read), (std::vector<uint64_t>{3, 6}));
  EXPECT_EQ(read->next_sequence, 7u);

  read = log->Read(4, 100, only_x, /*max_scan=*/2);  // looks at 4 and 5 only
  EXPECT_TRUE(read->messages.empty());
  EXPECT_EQ(read->next_sequence, 6u);

  read = log->Read(8, 100, nullptr, /*max_scan=*/2);
  EXPECT_EQ(Sequences(*read), (std::vector<uint64_t>{8, 9}));
  EXPECT_EQ(read->next_sequence, 10u);

  read = log->Read(11, 100, nullptr);  // nothing new yet
  EXPECT_TRUE(read->messages.empty());
  EXPECT_EQ(read->next_sequence, 11u);

  read = log->Read(5, 0, nullptr);
  EXPECT_TRUE(read->messages.empty());
  EXPECT_EQ(read->next_sequence, 5u);
}

TEST_P(MessageLogTest, SequenceAtTimeAndMonotonicTimes) {
  auto log = Make();
  Batch batch = {Msg("t", "1", T(10)), Msg("t", "2", T(20)), Msg("t", "3", T(20)),
                 Msg("t", "4", T(5)),  // earlier than its predecessor: raised to T(20)
                 Msg("t", "5", T(30))};
  ASSERT_TRUE(log->Append(batch).ok());
  EXPECT_EQ(batch[3]->publish_time, T(20));
  EXPECT_EQ(log->SequenceAtTime(T(0)), 1u);
  EXPECT_EQ(log->SequenceAtTime(T(10)), 1u);
  EXPECT_EQ(log->SequenceAtTime(T(11)), 2u);
  EXPECT_EQ(log->SequenceAtTime(T(20)), 2u);
  EXPECT_EQ(log->SequenceAtTime(T(21)), 5u);
  EXPECT_EQ(log->SequenceAtTime(T(31)), 6u);
  ASSERT_TRUE(log->Append({Msg("t", "6", T(1))}).ok());
  EXPECT_EQ(log->SequenceAtTime(T(30)), 5u);
}

TEST_P(MessageLogTest, RetentionByCount) {
  auto log = Make({.max_messages = 3});
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(log->Append({Msg("c", absl::StrCat(i))}).ok());
  // Append keeps the limit by itself (one message at a time here);
  // EnforceRetention finds nothing more.
  EXPECT_EQ(log->message_count(), 3u);
  log->EnforceRetention(T(100));
  EXPECT_EQ(log->first_sequence(), 3u);
  EXPECT_EQ(log->last_sequence(), 5u);
  EXPECT_EQ(log->message_count(), 3u);
  absl::StatusOr<LogReadResult> read = log->Read(1, 100, nullptr);
  EXPECT_EQ(Sequences(*read), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(log->SequenceAtTime(absl::InfinitePast()), 3u);
}

TEST_P(MessageLogTest, RetentionByBytes) {
  Batch batch = {Msg("b", "aaaa"), Msg("b", "bbbb"), Msg("b", "cccc"), Msg("b", "dddd")};
  const uint64_t each = Bytes(*batch[0]);
  auto log = Make({.max_bytes = 2 * each + 1});
  ASSERT_TRUE(log->Append(batch).ok());
  // The batch just stored stays whole, so subscribers can read it ...
  EXPECT_EQ(log->byte_count(), 4 * each);
  // ... and the next append drops down to the limit, its own batch kept.
  ASSERT_TRUE(log->Append({Msg("b", "eeee")}).ok());
  EXPECT_EQ(log->first_sequence(), 4u);
  EXPECT_EQ(log->byte_count(), 2 * each);
  ASSERT_TRUE(log->Append({Msg("b", "ffff")}).ok());
  EXPECT_EQ(log->first_sequence(), 5u);
  log->EnforceRetention(T(0));
  EXPECT_EQ(log->byte_count(), 2 * each);
}

// Age is enforced by EnforceRetention, and by Append as of the newest
// message's publish time.
TEST_P(MessageLogTest, AppendDropsWhatTheNewestMessageAgedOut) {
  auto log = Make({.max_age = absl::Seconds(10)});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append({Msg("a", absl::StrCat(i), T(i))}).ok());
  EXPECT_EQ(log->message_count(), 3u);
  ASSERT_TRUE(log->Append({Msg("a", "late", T(11))}).ok());  // T(0) is older than T(11) - 10s
  EXPECT_EQ(log->first_sequence(), 2u);
  EXPECT_EQ(log->message_count(), 3u);
}

TEST_P(MessageLogTest, RetentionByAgeDownToEmpty) {
  auto log = Make({.max_age = absl::Seconds(10)});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append({Msg("g", absl::StrCat(i), T(i))}).ok());
  log->EnforceRetention(T(12));  // keeps T(2) and later
  EXPECT_EQ(log->first_sequence(), 3u);
  EXPECT_EQ(log->message_count(), 3u);
  log->EnforceRetention(T(100));
  EXPECT_EQ(log->message_count(), 0u);
  EXPECT_EQ(log->byte_count(), 0u);
  EXPECT_EQ(log->first_sequence(), 6u);
  EXPECT_EQ(log->last_sequence(), 5u);
  absl::StatusOr<LogReadResult> read = log->Read(0, 10, nullptr);
  EXPECT_TRUE(read->messages.empty());
  EXPECT_EQ(read->next_sequence, 6u);
  ASSERT_TRUE(log->Append({Msg("g", "new", T(100))}).ok());
  EXPECT_EQ(log->first_sequence(), 6u);
  EXPECT_EQ(log->last_sequence(), 6u);
}

// One appender, retention enforced from another thread, readers following
// the log with and without a filter; bounded in count and time.
TEST_P(MessageLogTest, ConcurrentAppendAndRead) {
  auto log = Make({.max_messages = 300});
  constexpr int kBatches = 200, kBatchSize = 10;
  constexpr uint64_t kTotal = kBatches * kBatchSize;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  std::atomic<bool> failed{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      const TopicFilter filter =
          r % 2 ? TopicFilter() : [](absl::string_view topic) { return topic == "odd"; };
      uint64_t next = 0, previous = 0;
      while (next <= kTotal && absl::Now() < deadline && !failed) {
        absl::StatusOr<LogReadResult> read = log->Read(next, 64, filter, 128);
        if (!read.ok() || read->next_sequence < next) {
          failed = true;
          break;
        }
        for (const auto& message : read->messages) {
          if (message->sequence <= previous || message->sequence >= read->next_sequence ||
              (filter && message->topic != "odd")) {
            failed = true;
          }
          previous = message->sequence;
        }
        next = read->next_sequence;
        if (read->messages.empty()) std::this_thread::yield();
      }
      if (next != kTotal + 1) failed = true;
    });
  }
  std::thread appender([&] {
    for (int b = 0; b < kBatches; ++b) {
      Batch batch;
      for (int i = 0; i < kBatchSize; ++i) {
        batch.push_back(Msg(i % 2 ? "odd" : "even", absl::StrCat(b, "-", i), absl::Now()));
      }
      if (!log->Append(batch).ok()) failed = true;
      absl::SleepFor(absl::Microseconds(50));  // let the readers interleave
    }
  });
  std::atomic<bool> appended{false};
  std::thread retainer([&] {  // the broker enforces retention on its own thread
    while (!appended) {
      log->EnforceRetention(absl::Now());
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  appender.join();
  appended = true;
  retainer.join();
  log->EnforceRetention(absl::Now());
  for (auto& reader : readers) reader.join();
  EXPECT_FALSE(failed);
  EXPECT_EQ(log->last_sequence(), kTotal);
  EXPECT_EQ(log->message_count(), 300u);
}

INSTANTIATE_TEST_SUITE_P(Logs, MessageLogTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "File" : "Memory"; });

// --- FileLog only ---

class FileLogTest : public ::testing::Test {
 protected:
  FileLogOptions Options() {
    FileLogOptions options;
    options.directory = dir_;
    options.fsync = FsyncPolicy::kNever;
    options.on_warning = [this](absl::string_view w) { warnings_.push_back(std::string(w)); };
    return options;
  }
  std::unique_ptr<FileLog> Open(FileLogOptions options) {
    absl::StatusOr<std::unique_ptr<FileLog>> log = FileLog::Open(std::move(options));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }
  std::unique_ptr<FileLog> Open() { return Open(Options()); }
  // Appends n messages one per batch; returns them.
  Batch AppendN(MessageLog& log, int n, absl::string_view tag = "m") {
    Batch all;
    for (int i = 0; i < n; ++i) {
      all.push_back(Msg(absl::StrCat("topic.", i % 3), absl::StrCat(tag, i), T(i)));
      EXPECT_TRUE(log.Append({all.back()}).ok());
    }
    return all;
  }
  void ExpectContents(const MessageLog& log, const Batch& expected) {
    absl::StatusOr<LogReadResult> read = log.Read(0, expected.size() + 1, nullptr);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->messages.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) ExpectSame(*expected[i], *read->messages[i]);
  }
  std::string Segment(uint64_t first) {
    return absl::StrCat(dir_, "/", std::string(20 - std::to_string(first).size(), '0'), first,
                        ".seg");
  }

  const std::string dir_ = ScratchDir();
  std::vector<std::string> warnings_;
};

TEST_F(FileLogTest, CreatesMissingDirectoryAndReopensWithEverything) {
  Batch all;
  {
    FileLogOptions options = Options();
    options.directory = dir_ + "/nested/deeper";
    options.fsync = FsyncPolicy::kEveryWrite;
    auto log = Open(options);
    all = AppendN(*log, 5);
    Batch pair = {Msg("p", "x", T(9)), Msg("p", "y", T(9))};
    pair[1]->reply_to = "_INBOX.r";
    ASSERT_TRUE(log->Append(pair).ok());
    all.insert(all.end(), pair.begin(), pair.end());
  }
  FileLogOptions options = Options();
  options.directory = dir_ + "/nested/deeper";
  auto log = Open(options);
  EXPECT_EQ(log->first_sequence(), 1u);
  EXPECT_EQ(log->last_sequence(), 7u);
  EXPECT_EQ(log->message_count(), 7u);
  uint64_t bytes = 0;
  for (const auto& m : all) bytes += Bytes(*m);
  EXPECT_EQ(log->byte_count(), bytes);
  EXPECT_EQ(log->SequenceAtTime(T(9)), 6u);
  ExpectContents(*log, all);  // decoded from disk: the cache starts empty
  auto more = AppendN(*log, 2, "more");
  EXPECT_EQ(more[0]->sequence, 8u);
  log.reset();
  log = Open(options);
  EXPECT_EQ(log->last_sequence(), 9u);
  EXPECT_TRUE(warnings_.empty()) << absl::StrJoin(warnings_, "\n");
}

TEST_F(FileLogTest, IntervalFsyncFlushesAndStops) {
  FileLogOptions options = Options();
  options.fsync = FsyncPolicy::kInterval;
  options.fsync_interval = absl::Milliseconds(5);
  auto log = Open(options);
  Batch all = AppendN(*log, 3);
  absl::SleepFor(absl::Milliseconds(20));
  AppendN(*log, 1, "late");
  log.reset();  // syncs what is pending and stops the thread
  log = Open(options);
  EXPECT_EQ(log->last_sequence(), 4u);
}

TEST_F(FileLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  auto log = Open();
  absl::StatusOr<std::unique_ptr<FileLog>> second = FileLog::Open(Options());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "already open")) << second.status();
}

TEST_F(FileLogTest, TornTailGarbageIsCut) {
  Batch all;
  {
    auto log = Open();
    all = AppendN(*log, 4);
  }
  std::ofstream(Segment(1), std::ios::binary | std::ios::app) << std::string("\x07\x00garbage", 9);
  auto log = Open();
  EXPECT_EQ(log->last_sequence(), 4u);
  ExpectContents(*log, all);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(warnings_[0], "cut 9 bytes")) << warnings_[0];
  EXPECT_EQ(AppendN(*log, 1, "after")[0]->sequence, 5u);
  log.reset();
  log = Open();
  EXPECT_EQ(log->last_sequence(), 5u);
  EXPECT_EQ(warnings_.size(), 1u);  // nothing more to repair
}

TEST_F(FileLogTest, TornTailHalfRecordIsCut) {
  Batch all;
  uint64_t size_before_last = 0;
  {
    auto log = Open();
    all = AppendN(*log, 3);
    size_before_last = fs::file_size(Segment(1));
    AppendN(*log, 1, "torn");
  }
  const uint64_t size = fs::file_size(Segment(1));
  fs::resize_file(Segment(1), size_before_last + (size - size_before_last) / 2);
  auto log = Open();
  EXPECT_EQ(log->last_sequence(), 3u);
  ExpectContents(*log, all);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(warnings_[0],
                                absl::StrCat("cut ", (size - size_before_last) / 2, " bytes")))
      << warnings_[0];
  EXPECT_EQ(fs::file_size(Segment(1)), size_before_last);
  EXPECT_EQ(AppendN(*log, 1, "again")[0]->sequence, 4u);
}

TEST_F(FileLogTest, FlippedByteInLastRecordIsCut) {
  Batch all;
  {
    auto log = Open();
    all = AppendN(*log, 3);
  }
  const uint64_t size = fs::file_size(Segment(1));
  {
    std::fstream file(Segment(1), std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(size - 2);  // inside the last envelope
    file.put('\xFF');
  }
  auto log = Open();
  EXPECT_EQ(log->last_sequence(), 2u);
  all.pop_back();
  ExpectContents(*log, all);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(warnings_[0], "CRC")) << warnings_[0];
}

TEST_F(FileLogTest, SegmentCutShortWhileBeingCreatedIsReused) {
  {
    auto log = Open();
    AppendN(*log, 4);
  }
  std::ofstream(Segment(5), std::ios::binary) << "KEIB";  // a crash mid-header
  auto log = Open();
  EXPECT_EQ(log->last_sequence(), 4u);
  EXPECT_EQ(AppendN(*log, 1, "next")[0]->sequence, 5u);
  EXPECT_GT(fs::file_size(Segment(5)), 12u);
  EXPECT_TRUE(warnings_.empty()) << absl::StrJoin(warnings_, "\n");
}

// RLIMIT_FSIZE makes the write fail part way (EFBIG after a short write).
TEST_F(FileLogTest, FailedWriteIsUndoneAndTheLogStaysUsable) {
  auto log = Open();
  Batch all = AppendN(*log, 2);
  const uint64_t size = fs::file_size(Segment(1));
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit limited = saved;
  limited.rlim_cur = size + 100;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  Batch big = {Msg("big", std::string(60, 'a')), Msg("big", std::string(60, 'b'))};
  absl::Status status = log->Append(big);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(big[0]->sequence, 0u);
  EXPECT_EQ(log->last_sequence(), 2u);
  EXPECT_EQ(fs::file_size(Segment(1)), size);

  ASSERT_TRUE(log->Append(big).ok());
  EXPECT_EQ(big[0]->sequence, 3u);
  all.insert(all.end(), big.begin(), big.end());
  log.reset();
  log = Open();
  ExpectContents(*log, all);
  EXPECT_TRUE(warnings_.empty()) << absl::StrJoin(warnings_, "\n");
}

TEST_F(FileLogTest, CorruptionInAnEarlierSegmentSetsLaterOnesAside) {
  FileLogOptions options = Options();
  options.segment_bytes = 1;  // a segment per batch
  {
    auto log = Open(options);
    AppendN(*log, 4);
  }
  ASSERT_EQ(SegmentNames(dir_).size(), 4u);
  fs::resize_file(Segment(2), fs::file_size(Segment(2)) - 1);
  auto log = Open(options);
  EXPECT_EQ(log->last_sequence(), 1u);
  EXPECT_EQ(SegmentNames(dir_),
            (std::vector<std::string>{"00000000000000000001.seg", "00000000000000000002.seg",
                                      "00000000000000000003.seg.corrupt",
                                      "00000000000000000004.seg.corrupt"}));
  EXPECT_EQ(warnings_.size(), 3u) << absl::StrJoin(warnings_, "\n");
  EXPECT_EQ(AppendN(*log, 1, "next")[0]->sequence, 2u);
}

TEST_F(FileLogTest, RollsSegmentsAndDeletesThemOnceRetainedAway) {
  FileLogOptions options = Options();
  options.segment_bytes = 300;
  Batch all;
  {
    auto log = Open(options);
    all = AppendN(*log, 30);
  }
  const std::vector<std::string> before = SegmentNames(dir_);
  ASSERT_GT(before.size(), 4u);
  {
    auto log = Open(options);  // reads across every segment
    ExpectContents(*log, all);
    EXPECT_EQ(log->Read(12, 3, nullptr)->messages[0]->sequence, 12u);
  }
  options.retention.max_messages = 5;
  auto log = Open(options);  // retention applies at Open
  EXPECT_EQ(log->first_sequence(), 26u);
  ExpectContents(*log, Batch(all.end() - 5, all.end()));
  const std::vector<std::string> after = SegmentNames(dir_);
  ASSERT_LT(after.size(), before.size());
  // The first file left holds sequence 26; the one before it is gone.
  EXPECT_LE(std::stoull(after[0].substr(0, 20)), 26u);
  EXPECT_EQ(after, std::vector<std::string>(before.end() - after.size(), before.end()));
  EXPECT_TRUE(after.size() == 1 || std::stoull(after[1].substr(0, 20)) > 26u)
      << absl::StrJoin(after, " ");

  // Dropping everything keeps the active segment, and sequences continue.
  options.retention = {.max_age = absl::Seconds(1)};
  log.reset();
  log = Open(options);
  EXPECT_EQ(log->message_count(), 0u);
  EXPECT_EQ(log->first_sequence(), 31u);
  EXPECT_EQ(SegmentNames(dir_).size(), 1u);
  EXPECT_EQ(AppendN(*log, 1, "fresh")[0]->sequence, 31u);
}

TEST_F(FileLogTest, ReadsPastTheCacheDecodeFromDisk) {
  FileLogOptions options = Options();
  options.cache_bytes = 400;  // a few records
  options.segment_bytes = 1000;
  auto log = Open(options);
  Batch all = AppendN(*log, 40);
  absl::StatusOr<LogReadResult> read = log->Read(0, 100, nullptr);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->messages.size(), 40u);
  for (size_t i = 0; i < all.size(); ++i) ExpectSame(*all[i], *read->messages[i]);
  EXPECT_NE(read->messages.front(), all.front());  // decoded from disk
  EXPECT_EQ(read->messages.back(), all.back());    // served from the cache
  // A filter is applied before anything is decoded.
  read = log->Read(0, 100, [](absl::string_view t) { return t == "topic.1"; });
  ASSERT_EQ(read->messages.size(), 13u);
  for (const auto& message : read->messages) EXPECT_EQ(message->topic, "topic.1");
}

TEST_F(FileLogTest, ForeignFilesAreRefusedClearly) {
  fs::create_directories(dir_);
  std::ofstream(Segment(1), std::ios::binary) << "PK\x03\x04 certainly not a segment";
  absl::StatusOr<std::unique_ptr<FileLog>> log = FileLog::Open(Options());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(log.status().message(), "not a KEI bus log segment"))
      << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), Segment(1))) << log.status();

  fs::remove(Segment(1));
  std::ofstream(dir_ + "/notes.seg") << "hello";
  log = FileLog::Open(Options());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(log.status().message(), "notes.seg")) << log.status();
}

}  // namespace
}  // namespace kei::bus
