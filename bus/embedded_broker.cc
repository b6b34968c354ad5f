#include "bus/embedded_broker.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bus/envelope.h"
#include "bus/subject.h"
#include "bus/wire_scan.h"
#include "google/protobuf/arena.h"
#include "nlohmann/json.hpp"

namespace kei::bus {
namespace {

namespace fs = std::filesystem;

// How long a failed dead-letter store waits before it is tried again.
constexpr absl::Duration kDeadLetterRetry = absl::Milliseconds(500);
// Request messages a reader may have unread before requests skip it.
constexpr size_t kMaxQueuedRequests = 1024;

nlohmann::json GroupStateToJson(const GroupState& state) {
  nlohmann::json backoff = nlohmann::json::array();
  for (absl::Duration d : state.options.backoff) backoff.push_back(absl::ToInt64Milliseconds(d));
  return {
      {"name", state.name},
      {"pattern", state.pattern},
      {"ack_wait_ms", absl::ToInt64Milliseconds(state.options.ack_wait)},
      {"max_deliveries", state.options.max_deliveries},
      {"backoff_ms", backoff},
      {"dead_letter_topic", state.options.dead_letter_topic},
      {"max_ack_pending", state.options.max_ack_pending},
      {"ack_floor", state.ack_floor},
      {"acked", state.acked},
  };
}

absl::StatusOr<GroupState> GroupStateFromJson(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError("group state is not a JSON object");
  }
  GroupState state;
  try {
    state.name = json.at("name").get<std::string>();
    state.pattern = json.at("pattern").get<std::string>();
    state.options.ack_wait = absl::Milliseconds(json.at("ack_wait_ms").get<int64_t>());
    state.options.max_deliveries = json.at("max_deliveries").get<int>();
    for (const auto& ms : json.at("backoff_ms")) {
      state.options.backoff.push_back(absl::Milliseconds(ms.get<int64_t>()));
    }
    state.options.dead_letter_topic = json.at("dead_letter_topic").get<std::string>();
    state.options.max_ack_pending = json.at("max_ack_pending").get<uint32_t>();
    state.ack_floor = json.at("ack_floor").get<uint64_t>();
    for (const auto& sequence : json.at("acked")) state.acked.insert(sequence.get<uint64_t>());
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("group state: ", e.what()));
  }
  SubscribeSpec spec{state.pattern, state.name, {}, state.options};
  if (auto s = ValidateGroup(spec); !s.ok()) return s;
  if (auto s = ValidatePattern(state.pattern); !s.ok()) return s;
  return state;
}

// Writes `contents` to `path` atomically (temporary file, fsync, rename).
absl::Status WriteFileAtomically(const fs::path& path, const std::string& contents) {
  fs::path temporary = path;
  temporary += ".tmp";
  FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) {
    return absl::UnavailableError(absl::StrCat("open ", temporary.string(), ": ", strerror(errno)));
  }
  bool ok = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size() &&
            std::fflush(file) == 0 && fdatasync(fileno(file)) == 0;
  int error = errno;
  std::fclose(file);
  if (!ok) {
    return absl::UnavailableError(absl::StrCat("write ", temporary.string(), ": ", strerror(error)));
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

// A publish waiting for its batch to be written.
struct EmbeddedBroker::PendingPublish {
  std::shared_ptr<Message> message;
  DedupWindow::Key key;  // of message's id, when de-duplicating
  bool done = false;
  absl::Status status;
};

// A request waiting for its reply.
struct EmbeddedBroker::Inbox {
  absl::Mutex mu;
  MessagePtr reply ABSL_GUARDED_BY(mu);
};

// What ephemeral and group subscriptions share: registration for requests, a
// queue of request messages, closing and the wait for news.
class EmbeddedBroker::Reader : public Subscription {
 public:
  Reader(EmbeddedBroker* broker, std::string pattern, std::string group, bool accepts_requests)
      : broker_(broker),
        pattern_(std::move(pattern)),
        group_(std::move(group)),
        accepts_requests_(accepts_requests),
        last_sequence_(broker->log_->last_sequence()),
        first_sequence_(broker->log_->first_sequence()) {
    absl::MutexLock lock(&broker_->readers_mu_);
    id_ = broker_->next_reader_id_++;
    broker_->readers_[id_] = this;
  }
  ~Reader() override {
    absl::MutexLock lock(&broker_->readers_mu_);
    broker_->readers_.erase(id_);
  }

  uint64_t last_sequence() const override { return last_sequence_; }
  uint64_t first_sequence() const override { return first_sequence_; }
  const std::string& pattern() const { return pattern_; }
  const std::string& group() const { return group_; }
  bool accepts_requests() const { return accepts_requests_; }
  uint64_t id() const { return id_; }

  // A request message for this reader; false when it cannot take one (closed,
  // or too many unread). Called with readers_mu_ held (so the reader is alive).
  bool Offer(Delivery delivery) {
    absl::MutexLock lock(&broker_->wake_mu_);
    if (closed_ || requests_.size() >= kMaxQueuedRequests) return false;
    requests_.push_back(std::move(delivery));
    return true;
  }

  void Close() override {
    {
      absl::MutexLock lock(&broker_->wake_mu_);
      if (closed_) return;
      closed_ = true;
    }
    OnClose();
  }

  absl::StatusOr<std::vector<Delivery>> Next(size_t max, absl::Time deadline) override {
    if (max == 0) max = 1;
    while (true) {
      uint64_t seen;
      std::vector<Delivery> out;
      {
        absl::MutexLock lock(&broker_->wake_mu_);
        if (closed_) return absl::CancelledError("subscription closed");
        seen = broker_->epoch_;
        while (!requests_.empty() && out.size() < max) {
          out.push_back(std::move(requests_.front()));
          requests_.pop_front();
        }
      }
      absl::Time due = absl::InfiniteFuture();
      if (out.size() < max) {
        auto more = Poll(max - out.size(), absl::Now(), &due);
        if (!more.ok()) return more.status();
        for (Delivery& d : *more) out.push_back(std::move(d));
      }
      if (Closed()) {
        // Closed while polling: what the poll took goes back (OnClose is
        // idempotent), as Close promises.
        OnClose();
        return absl::CancelledError("subscription closed");
      }
      if (!out.empty()) return out;
      if (absl::Now() >= deadline) return out;
      absl::MutexLock lock(&broker_->wake_mu_);
      auto news = [&] {
        return closed_ || broker_->epoch_ != seen || !requests_.empty();
      };
      absl::Time until = std::min(deadline, due);
      if (!broker_->wake_mu_.AwaitWithDeadline(absl::Condition(&news), until) &&
          until == deadline && absl::Now() >= deadline) {
        return std::vector<Delivery>{};
      }
    }
  }

 protected:
  // Stored messages for this reader; `due` lowered to when something held
  // becomes due without news.
  virtual absl::StatusOr<std::vector<Delivery>> Poll(size_t max, absl::Time now,
                                                     absl::Time* due) = 0;
  virtual void OnClose() {}
  bool Closed() {
    absl::MutexLock lock(&broker_->wake_mu_);
    return closed_;
  }

  EmbeddedBroker* const broker_;

 private:
  const std::string pattern_;
  const std::string group_;
  const bool accepts_requests_;
  const uint64_t last_sequence_;
  const uint64_t first_sequence_;
  uint64_t id_ = 0;
  std::deque<Delivery> requests_ ABSL_GUARDED_BY(broker_->wake_mu_);
  bool closed_ ABSL_GUARDED_BY(broker_->wake_mu_) = false;
};

// At-most-once fan-out: a cursor over the log.
class EmbeddedBroker::EphemeralReader final : public Reader {
 public:
  // A start below the log's first retained sequence starts there (the
  // subscriber sees the gap in first_sequence()).
  EphemeralReader(EmbeddedBroker* broker, const SubscribeSpec& spec, uint64_t start)
      : Reader(broker, spec.pattern, "", spec.accepts_requests),
        cursor_(std::max(start, broker->log_->first_sequence())) {}

 private:
  absl::StatusOr<std::vector<Delivery>> Poll(size_t max, absl::Time now, absl::Time* due) override {
    const MessageLog& log = *broker_->log_;
    auto read = log.Read(cursor_, max,
                         [this](absl::string_view topic) { return TopicMatches(pattern(), topic); });
    if (!read.ok()) return read.status();
    // Checked on the read itself: retention may drop messages at any append.
    // Before the first read the cursor is only where the subscriber asked to
    // start, and what retention dropped since was never its to miss.
    if (!read_before_) {
      read_before_ = true;
      cursor_ = std::max(cursor_, read->first_sequence);
    } else if (cursor_ < read->first_sequence) {
      uint64_t missed = read->first_sequence - cursor_;
      cursor_ = read->first_sequence;
      return absl::ResourceExhaustedError(absl::StrCat(
          "subscriber fell behind the bus log's retention; ", missed,
          " messages were dropped for it (resubscribe from sequence ", cursor_, ")"));
    }
    cursor_ = std::max(cursor_, read->next_sequence);
    // The read stopped at its scan limit: look further at once.
    if (read->messages.empty() && cursor_ <= log.last_sequence()) *due = now;
    std::vector<Delivery> out;
    out.reserve(read->messages.size());
    for (MessagePtr& message : read->messages) out.push_back(Delivery{std::move(message), "", 1});
    return out;
  }

  uint64_t cursor_;
  bool read_before_ = false;
};

// A member of a durable consumer group.
class EmbeddedBroker::GroupReader final : public Reader {
 public:
  GroupReader(EmbeddedBroker* broker, std::shared_ptr<ConsumerGroup> group)
      : Reader(broker, group->pattern(), group->name(), /*accepts_requests=*/true),
        group_(std::move(group)) {}
  ~GroupReader() override { Close(); }

 private:
  absl::StatusOr<std::vector<Delivery>> Poll(size_t max, absl::Time now,
                                             absl::Time* due) override {
    auto fetched = group_->Fetch(id(), max, now, *broker_->log_);
    if (!fetched.ok()) return fetched.status();
    for (const MessagePtr& message : fetched->dead_letters) {
      if (auto s = broker_->PublishDeadLetter(*group_, message); s.ok()) {
        group_->Ack(message->sequence);
      } else {
        std::fprintf(stderr, "bus: group %s: dead-lettering sequence %llu failed (retrying): %s\n",
                     group_->name().c_str(), static_cast<unsigned long long>(message->sequence),
                     s.ToString().c_str());
        group_->Nack(message->sequence, kDeadLetterRetry, now);
        *due = std::min(*due, now + kDeadLetterRetry);
      }
    }
    *due = std::min(*due, fetched->next_due);
    return std::move(fetched->deliveries);
  }

  void OnClose() override {
    group_->MemberLeft(id(), absl::Now());
    broker_->Wake();
  }

  std::shared_ptr<ConsumerGroup> group_;
};

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<MessageLog> log, EmbeddedBrokerOptions options)
    : options_(std::move(options)),
      log_(std::move(log)),
      dedup_(options_.duplicate_window, options_.max_duplicate_ids) {}

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Open(
    std::unique_ptr<MessageLog> log, EmbeddedBrokerOptions options) {
  if (log == nullptr) return absl::InvalidArgumentError("the broker needs a log");
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker(std::move(log), std::move(options)));
  if (auto s = broker->Restore(); !s.ok()) return s;
  broker->maintainer_ = std::thread([b = broker.get()] { b->Maintain(); });
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  {
    absl::MutexLock lock(&maintain_mu_);
    stopping_ = true;
  }
  if (maintainer_.joinable()) maintainer_.join();
  if (auto s = SaveGroups(); !s.ok()) {
    std::fprintf(stderr, "bus: saving consumer groups failed: %s\n", s.ToString().c_str());
  }
}

absl::Status EmbeddedBroker::Restore() {
  // De-duplication survives restarts within its window.
  absl::Time now = absl::Now();
  if (options_.duplicate_window > absl::ZeroDuration()) {
    uint64_t from = log_->SequenceAtTime(now - options_.duplicate_window);
    absl::MutexLock lock(&publish_mu_);
    while (from <= log_->last_sequence()) {
      auto read = log_->Read(from, 4096, nullptr);
      if (!read.ok()) return read.status();
      for (const MessagePtr& m : read->messages) {
        dedup_.Insert(m->id(), m->sequence, m->publish_time);
      }
      if (read->next_sequence <= from) break;
      from = read->next_sequence;
    }
  }
  if (options_.state_directory.empty()) return absl::OkStatus();
  fs::path dir = fs::path(options_.state_directory) / "groups";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", dir.string(), ": ", ec.message()));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (ec) return absl::UnavailableError(absl::StrCat("read ", dir.string(), ": ", ec.message()));
  absl::MutexLock lock(&readers_mu_);
  for (const fs::path& path : files) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto state = GroupStateFromJson(text.str());
    if (!state.ok()) {
      // One unreadable group must not keep the bus down: set it aside.
      fs::path aside = path;
      aside += ".corrupt";
      std::error_code rename_error;
      fs::rename(path, aside, rename_error);
      std::fprintf(stderr, "bus: %s: %s; %s %s, the group starts over\n", path.c_str(),
                   std::string(state.status().message()).c_str(),
                   rename_error ? "could not move it to" : "moved to", aside.c_str());
      continue;
    }
    // A log that lost its unsynced tail (power loss) ends below the floor:
    // sequences it hands out again are new messages, not acknowledged ones.
    uint64_t last = log_->last_sequence();
    if (state->ack_floor > last) state->ack_floor = last;
    state->acked.erase(state->acked.upper_bound(last), state->acked.end());
    std::string name = state->name;
    groups_[name] = std::make_shared<ConsumerGroup>(*std::move(state));
  }
  return absl::OkStatus();
}

absl::StatusOr<PublishResult> EmbeddedBroker::Publish(absl::string_view topic,
                                                      v1::Envelope envelope) {
  if (absl::StartsWith(topic, kInboxPrefix)) return Reply(topic, std::move(envelope));
  auto message = Prepare(topic, std::move(envelope), absl::Now());
  if (!message.ok()) return message.status();
  return std::move(Store({*std::move(message)}, /*deduplicate=*/true).front());
}

absl::Status EmbeddedBroker::Admit(absl::string_view topic, v1::Envelope& envelope,
                                   absl::Time now) const {
  if (auto s = ValidateTopic(topic); !s.ok()) return s;
  FillEnvelopeDefaults(envelope, now);
  return CheckSize(envelope.ByteSizeLong());
}

absl::Status EmbeddedBroker::CheckSize(size_t envelope_size) const {
  if (envelope_size > options_.max_message_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("message of ", envelope_size,
                                                     " bytes exceeds the bus limit of ",
                                                     options_.max_message_bytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Message>> EmbeddedBroker::Prepare(absl::string_view topic,
                                                                 v1::Envelope envelope,
                                                                 absl::Time now) const {
  if (auto s = Admit(topic, envelope, now); !s.ok()) return s;
  auto message = NewMessage();
  message->topic = std::string(topic);
  message->publish_time = now;
  message->mutable_envelope() = std::move(envelope);
  return message;
}

absl::StatusOr<PublishResult> EmbeddedBroker::Reply(absl::string_view topic,
                                                    v1::Envelope envelope) {
  if (auto s = ValidateTopic(topic); !s.ok()) return s;
  absl::Time now = absl::Now();
  FillEnvelopeDefaults(envelope, now);
  PublishResult result{envelope.id(), 0, false};
  std::shared_ptr<Inbox> inbox;
  {
    absl::MutexLock lock(&inbox_mu_);
    auto it = inboxes_.find(topic);
    if (it != inboxes_.end()) inbox = it->second;
  }
  if (inbox == nullptr) return result;  // the requester gave up: dropped, as NATS does
  auto reply = NewMessage();
  reply->topic = std::string(topic);
  reply->publish_time = now;
  reply->mutable_envelope() = std::move(envelope);
  absl::MutexLock lock(&inbox->mu);
  if (inbox->reply == nullptr) inbox->reply = std::move(reply);
  return result;
}

std::vector<absl::StatusOr<PublishResult>> EmbeddedBroker::PublishBatch(
    std::vector<std::pair<std::string, v1::Envelope>> batch) {
  std::vector<absl::StatusOr<PublishResult>> results(batch.size());
  std::vector<std::shared_ptr<Message>> messages;
  std::vector<size_t> positions;
  absl::Time now = absl::Now();
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& [topic, envelope] = batch[i];
    if (absl::StartsWith(topic, kInboxPrefix)) {
      results[i] = Reply(topic, std::move(envelope));
      continue;
    }
    auto message = Prepare(topic, std::move(envelope), now);
    if (!message.ok()) {
      results[i] = message.status();
      continue;
    }
    messages.push_back(*std::move(message));
    positions.push_back(i);
  }
  auto stored = Store(std::move(messages), /*deduplicate=*/true);
  for (size_t j = 0; j < positions.size(); ++j) results[positions[j]] = std::move(stored[j]);
  return results;
}

// A publish batch kept as it came: its bytes, the envelopes that had to be
// rewritten (defaults filled) or came in pieces, and its messages, which point
// into them.
struct EmbeddedBroker::SerializedBatch {
  std::string bytes;
  std::deque<std::string> envelopes;
  std::deque<Message> messages;
};

absl::StatusOr<std::vector<absl::StatusOr<PublishResult>>> EmbeddedBroker::PublishSerializedBatch(
    std::string bytes) {
  auto batch = std::make_shared<SerializedBatch>();
  batch->bytes = std::move(bytes);
  auto split = SplitPublishBatch(batch->bytes, kMaxPublishBatch);
  if (!split.ok()) return split.status();
  batch->envelopes = std::move(split->merged);  // the slices still point at them
  const size_t n = split->messages.size();
  std::vector<absl::StatusOr<PublishResult>> results(n);
  std::vector<size_t> positions;
  positions.reserve(n);
  size_t counted = 0;  // what retention will count of the stored messages
  absl::Time now = absl::Now();
  for (size_t i = 0; i < n; ++i) {
    const PublishSlice& slice = split->messages[i];
    if (absl::StartsWith(slice.topic, kInboxPrefix)) {
      v1::Envelope envelope;
      if (!envelope.ParseFromArray(slice.envelope.data(), static_cast<int>(slice.envelope.size()))) {
        results[i] = absl::InvalidArgumentError("malformed envelope");
      } else {
        results[i] = Reply(slice.topic, std::move(envelope));
      }
      continue;
    }
    if (auto s = ValidateTopic(slice.topic); !s.ok()) {
      results[i] = s;
      continue;
    }
    auto scan = ScanEnvelope(slice.envelope);
    if (!scan.ok()) {
      results[i] = scan.status();
      continue;
    }
    absl::string_view envelope = slice.envelope;
    absl::string_view id = scan->id;
    if (id.empty() || !scan->has_time) {
      // Defaults as FillEnvelopeDefaults sets them, appended to a copy.
      const std::string new_id = id.empty() ? NewUuid() : std::string();
      const size_t id_offset = id.empty() ? 0 : id.data() - envelope.data();
      std::string& rewritten = batch->envelopes.emplace_back(envelope);
      const size_t new_id_offset = AppendEnvelopeDefaults(
          new_id, scan->has_time ? absl::InfiniteFuture() : now, &rewritten);
      envelope = rewritten;
      id = id.empty() ? envelope.substr(new_id_offset, new_id.size())
                      : envelope.substr(id_offset, id.size());
    }
    if (auto s = CheckSize(envelope.size()); !s.ok()) {
      results[i] = s;
      continue;
    }
    Message& message = batch->messages.emplace_back(envelope, id);
    message.topic = std::string(slice.topic);
    message.publish_time = now;
    positions.push_back(i);
    counted += envelope.size() + slice.topic.size();
  }
  // The messages live in the batch's allocation and keep all of it alive;
  // so only when what retention counts of them is all of it but the framing:
  // every message stored, none rewritten or put together from pieces, no
  // unknown fields. Otherwise the rest (up to the transport's message limit)
  // would stay in memory that retention does not count: then the messages
  // are copies of their own. (Store does the same on duplicates.)
  constexpr size_t kMaxFraming = 3 * (1 + 5);  // three tags and lengths a message
  const bool whole = positions.size() == n && batch->envelopes.empty() &&
                     batch->bytes.size() <= counted + kMaxFraming * n;
  std::vector<std::shared_ptr<Message>> messages;
  messages.reserve(positions.size());
  for (Message& message : batch->messages) {
    messages.push_back(whole ? std::shared_ptr<Message>(batch, &message) : CopyMessage(message));
  }
  auto stored = Store(std::move(messages), /*deduplicate=*/true, /*one_allocation=*/whole);
  for (size_t j = 0; j < positions.size(); ++j) results[positions[j]] = std::move(stored[j]);
  return results;
}

std::vector<absl::StatusOr<PublishResult>> EmbeddedBroker::Store(
    std::vector<std::shared_ptr<Message>> messages, bool deduplicate, bool one_allocation) {
  const size_t n = messages.size();
  // Each is set below (a default StatusOr is an UNKNOWN error).
  std::vector<absl::StatusOr<PublishResult>> results(n);
  // Shared: a publish racing one of ours for the same id waits on it and may
  // look at it after we returned. One allocation holds this call's records.
  auto records = std::make_shared<PendingPublish[]>(n);
  std::vector<std::shared_ptr<PendingPublish>> mine(n);
  std::vector<std::pair<size_t, std::shared_ptr<PendingPublish>>> racing;
  // Each id is keyed once, for the lookup here and the insertion after the write.
  std::vector<DedupWindow::Key> keys;
  if (deduplicate) {
    keys.reserve(n);
    for (const auto& message : messages) keys.emplace_back(message->id());
  }
  absl::MutexLock lock(&publish_mu_);
  for (const DedupWindow::Key& key : keys) dedup_.Prefetch(key);
  PendingPublish* last = nullptr;
  bool duplicates = false;
  for (size_t i = 0; i < n; ++i) {
    const absl::string_view id = messages[i]->id();
    if (deduplicate) {
      if (auto sequence = dedup_.Find(keys[i], messages[i]->publish_time)) {
        results[i] = PublishResult{std::string(id), *sequence, true};
        duplicates = true;
        continue;
      }
      if (auto it = unwritten_ids_.find(id); it != unwritten_ids_.end()) {
        racing.emplace_back(i, it->second);
        duplicates = true;
        continue;
      }
    }
    mine[i] = std::shared_ptr<PendingPublish>(records, &records[i]);
    mine[i]->message = messages[i];
    if (deduplicate) {
      mine[i]->key = keys[i];
      unwritten_ids_[id] = mine[i];
    }
    pending_.push_back(mine[i].get());
    last = mine[i].get();
  }
  if (duplicates) {
    // Messages in a publish batch's allocation keep the whole batch alive,
    // the duplicates' contents too, which retention does not count: the ones
    // stored get copies of their own. (Nobody else sees them before we
    // release the lock.)
    for (size_t i = 0; i < n && one_allocation; ++i) {
      if (mine[i] == nullptr) continue;
      std::shared_ptr<Message> copy = CopyMessage(*messages[i]);
      if (deduplicate) {
        unwritten_ids_.erase(messages[i]->id());
        unwritten_ids_[copy->id()] = mine[i];
        mine[i]->key = DedupWindow::Key(copy->id());
      }
      mine[i]->message = copy;
      messages[i] = std::move(copy);
    }
  }
  // Ours were queued together, so they are committed together.
  while (last != nullptr && !last->done) {
    if (writing_) {
      auto settled = [&] { return last->done || !writing_; };
      publish_mu_.Await(absl::Condition(&settled));
      continue;
    }
    // Lead: write everything pending as one batch.
    writing_ = true;
    std::vector<PendingPublish*> batch;
    batch.swap(pending_);
    std::vector<std::shared_ptr<Message>> to_append;
    to_append.reserve(batch.size());
    for (PendingPublish* p : batch) to_append.push_back(p->message);
    publish_mu_.Unlock();
    absl::Status status = log_->Append(to_append);
    publish_mu_.Lock();
    for (PendingPublish* p : batch) {
      auto it = unwritten_ids_.find(p->message->id());
      if (it != unwritten_ids_.end() && it->second.get() == p) {
        unwritten_ids_.erase(it);
        if (status.ok()) dedup_.Insert(p->key, p->message->sequence, p->message->publish_time);
      }
      p->status = status;
      p->done = true;
    }
    writing_ = false;
    if (status.ok()) Wake();
  }
  for (size_t i = 0; i < n; ++i) {
    if (mine[i] == nullptr) continue;
    if (mine[i]->status.ok()) {
      results[i] = PublishResult{std::string(messages[i]->id()), messages[i]->sequence, false};
    } else {
      results[i] = mine[i]->status;
    }
  }
  for (auto& [i, other] : racing) {
    // The same id is being written right now: answer with its outcome.
    publish_mu_.Await(
        absl::Condition(+[](PendingPublish* p) { return p->done; }, other.get()));
    if (other->status.ok()) {
      results[i] = PublishResult{std::string(messages[i]->id()), other->message->sequence, true};
    } else {
      results[i] = other->status;
    }
  }
  return results;
}

absl::Status EmbeddedBroker::PublishDeadLetter(const ConsumerGroup& group,
                                               const MessagePtr& message) {
  auto copy = NewMessage();
  copy->topic = group.dead_letter_topic();
  copy->publish_time = absl::Now();
  v1::Envelope& envelope = copy->mutable_envelope();
  envelope = message->envelope();
  (*envelope.mutable_extensions())["keiorigtopic"] = message->topic;
  (*envelope.mutable_extensions())["keiorigsequence"] = absl::StrCat(message->sequence);
  (*envelope.mutable_extensions())["keigroup"] = group.name();
  // Same event id as the original: stored without de-duplication.
  return Store({std::move(copy)}, /*deduplicate=*/false).front().status();
}

void EmbeddedBroker::Wake() {
  absl::MutexLock lock(&wake_mu_);
  ++epoch_;
}

absl::StatusOr<std::shared_ptr<ConsumerGroup>> EmbeddedBroker::FindOrCreateGroup(
    const SubscribeSpec& spec) {
  if (auto s = ValidateGroup(spec); !s.ok()) return s;
  const GroupOptions& o = spec.group_options;
  std::shared_ptr<ConsumerGroup> group;
  {
    absl::MutexLock lock(&readers_mu_);
    auto it = groups_.find(spec.group);
    if (it != groups_.end()) {
      if (it->second->pattern() != spec.pattern) {
        return absl::FailedPreconditionError(absl::StrCat(
            "group '", spec.group, "' reads '", it->second->pattern(), "', not '", spec.pattern,
            "'"));
      }
      return it->second;
    }
    if (groups_.size() >= options_.max_groups) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the bus keeps at most ", options_.max_groups, " consumer groups"));
    }
    uint64_t start = 0;
    switch (spec.start.kind) {
      case StartPosition::Kind::kNew: start = log_->last_sequence() + 1; break;
      case StartPosition::Kind::kAll: start = log_->first_sequence(); break;
      case StartPosition::Kind::kSequence: start = spec.start.sequence; break;
      case StartPosition::Kind::kTime: start = log_->SequenceAtTime(spec.start.time); break;
    }
    group = std::make_shared<ConsumerGroup>(spec.group, spec.pattern, o, start);
    groups_[spec.group] = group;
  }
  if (auto s = SaveGroup(*group); !s.ok()) {
    // Not durable, so not created: a restart would lose its position.
    absl::MutexLock lock(&readers_mu_);
    groups_.erase(spec.group);
    return s;
  }
  return group;
}

absl::StatusOr<std::unique_ptr<Subscription>> EmbeddedBroker::Subscribe(const SubscribeSpec& spec) {
  if (auto s = ValidatePattern(spec.pattern); !s.ok()) return s;
  if (!spec.group.empty()) {
    auto group = FindOrCreateGroup(spec);
    if (!group.ok()) return group.status();
    return std::make_unique<GroupReader>(this, *std::move(group));
  }
  uint64_t start = log_->last_sequence() + 1;
  switch (spec.start.kind) {
    case StartPosition::Kind::kNew: break;
    case StartPosition::Kind::kAll: start = log_->first_sequence(); break;
    case StartPosition::Kind::kSequence: start = std::max<uint64_t>(spec.start.sequence, 1); break;
    case StartPosition::Kind::kTime: start = log_->SequenceAtTime(spec.start.time); break;
  }
  return std::make_unique<EphemeralReader>(this, spec, start);
}

absl::StatusOr<std::pair<std::shared_ptr<ConsumerGroup>, uint64_t>> EmbeddedBroker::FindAcked(
    absl::string_view ack_id) {
  std::string name;
  uint64_t sequence = 0;
  if (auto s = ConsumerGroup::ParseAckId(ack_id, &name, &sequence); !s.ok()) return s;
  absl::MutexLock lock(&readers_mu_);
  auto it = groups_.find(name);
  return std::make_pair(it == groups_.end() ? nullptr : it->second, sequence);
}

absl::Status EmbeddedBroker::Ack(absl::string_view ack_id) {
  auto found = FindAcked(ack_id);
  if (!found.ok()) return found.status();
  auto& [group, sequence] = *found;
  // Room under max_ack_pending may let members fetch again.
  if (group != nullptr && group->Ack(sequence)) Wake();
  return absl::OkStatus();
}

absl::Status EmbeddedBroker::Nack(absl::string_view ack_id, absl::Duration delay) {
  auto found = FindAcked(ack_id);
  if (!found.ok()) return found.status();
  auto& [group, sequence] = *found;
  if (group != nullptr && group->Nack(sequence, delay, absl::Now())) Wake();
  return absl::OkStatus();
}

absl::StatusOr<MessagePtr> EmbeddedBroker::Request(absl::string_view topic, v1::Envelope envelope,
                                                   absl::Time deadline) {
  if (auto s = ValidateTopic(topic); !s.ok()) return s;
  if (absl::StartsWith(topic, kInboxPrefix)) {
    return absl::InvalidArgumentError("requests cannot be sent to reply topics");
  }
  absl::Time now = absl::Now();
  FillEnvelopeDefaults(envelope, now);
  auto message = NewMessage();
  message->topic = std::string(topic);
  message->publish_time = now;
  message->mutable_envelope() = std::move(envelope);
  message->reply_to = absl::StrCat(kInboxPrefix, NewUuid());
  auto inbox = std::make_shared<Inbox>();
  {
    absl::MutexLock lock(&inbox_mu_);
    inboxes_[message->reply_to] = inbox;
  }
  struct Unregister {
    EmbeddedBroker* broker;
    const std::string& topic;
    ~Unregister() {
      absl::MutexLock lock(&broker->inbox_mu_);
      broker->inboxes_.erase(topic);
    }
  } unregister{this, message->reply_to};

  // Every matching ephemeral reader, and one member of every matching group.
  size_t responders = 0;
  {
    absl::MutexLock lock(&readers_mu_);
    std::map<std::string, std::vector<Reader*>> groups;
    for (const auto& [id, reader] : readers_) {
      if (!reader->accepts_requests() || !TopicMatches(reader->pattern(), topic)) continue;
      if (reader->group().empty()) {
        if (reader->Offer(Delivery{message, "", 1})) ++responders;
      } else {
        groups[reader->group()].push_back(reader);
      }
    }
    for (auto& [name, members] : groups) {
      // Round robin over the members; the next one when a member cannot take it.
      uint64_t turn = group_turn_[name]++;
      for (size_t k = 0; k < members.size(); ++k) {
        if (members[(turn + k) % members.size()]->Offer(Delivery{message, "", 1})) {
          ++responders;
          break;
        }
      }
    }
  }
  if (responders == 0) {
    return absl::UnavailableError(absl::StrCat("no responders for topic '", topic, "'"));
  }
  Wake();
  absl::MutexLock lock(&inbox->mu);
  auto replied = [&] { return inbox->reply != nullptr; };
  if (!inbox->mu.AwaitWithDeadline(absl::Condition(&replied), deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no reply from '", topic, "' before the deadline"));
  }
  return inbox->reply;
}

absl::Status EmbeddedBroker::SaveGroup(ConsumerGroup& group) {
  if (options_.state_directory.empty()) return absl::OkStatus();
  // One writer at a time: saves share the group's temporary file.
  absl::MutexLock lock(&save_mu_);
  GroupState state = group.Snapshot();
  fs::path path = fs::path(options_.state_directory) / "groups" / (state.name + ".json");
  absl::Status saved = WriteFileAtomically(path, GroupStateToJson(state).dump());
  if (!saved.ok()) group.MarkDirty();  // try again next time
  return saved;
}

absl::Status EmbeddedBroker::SaveGroups() {
  std::vector<std::shared_ptr<ConsumerGroup>> groups;
  {
    absl::MutexLock lock(&readers_mu_);
    for (const auto& [name, group] : groups_) groups.push_back(group);
  }
  absl::Status result;
  for (const auto& group : groups) {
    if (group->dirty()) result.Update(SaveGroup(*group));
  }
  return result;
}

void EmbeddedBroker::Maintain() {
  absl::Time next_retention = absl::Now();
  while (true) {
    {
      absl::MutexLock lock(&maintain_mu_);
      auto stopping = [this] { return stopping_; };
      if (maintain_mu_.AwaitWithTimeout(absl::Condition(&stopping),
                                        options_.maintenance_interval)) {
        return;
      }
    }
    if (auto s = SaveGroups(); !s.ok()) {
      std::fprintf(stderr, "bus: saving consumer groups failed: %s\n", s.ToString().c_str());
    }
    absl::Time now = absl::Now();
    if (now >= next_retention) {
      log_->EnforceRetention(now);
      next_retention = now + absl::Seconds(1);
    }
  }
}

}  // namespace kei::bus
