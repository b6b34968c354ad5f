// keid's embedded bus broker: the Backend over a MessageLog (MemoryLog, or
// FileLog for the durable mode). One log holds every stored message in
// publish order; ephemeral subscriptions and consumer-group members read it
// through their own cursors (so a slow reader never slows a publisher), and
// concurrent publishes are committed to the log in one batch (one write and,
// with fsync on every write, one fdatasync for many publishers).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "bus/backend.h"
#include "bus/consumer_group.h"
#include "bus/dedup_window.h"
#include "bus/log/message_log.h"

namespace kei::bus {

struct EmbeddedBrokerOptions {
  // Where consumer groups keep their state (one file per group); empty: in
  // memory only (the memory mode).
  std::string state_directory;
  absl::Duration duplicate_window = absl::Minutes(2);
  size_t max_duplicate_ids = 1 << 20;
  // Largest envelope (serialized) a publish may carry.
  size_t max_message_bytes = 1 << 20;
  // Consumer groups the broker keeps (each is state in memory and a file);
  // creating one more is RESOURCE_EXHAUSTED.
  size_t max_groups = 10000;
  // How often retention runs and changed group state is saved.
  absl::Duration maintenance_interval = absl::Milliseconds(100);
};

class EmbeddedBroker final : public Backend {
 public:
  // Restores consumer groups from options.state_directory and the
  // de-duplication window from the log's recent records.
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Open(std::unique_ptr<MessageLog> log,
                                                              EmbeddedBrokerOptions options = {});
  ~EmbeddedBroker() override;

  absl::StatusOr<PublishResult> Publish(absl::string_view topic, v1::Envelope envelope) override;
  // One group commit for the whole batch.
  std::vector<absl::StatusOr<PublishResult>> PublishBatch(
      std::vector<std::pair<std::string, v1::Envelope>> batch) override;
  // The same for a batch as it came off the wire: each envelope is checked
  // (bus/wire_scan.h) and stored as the bytes it came in, in the batch's own
  // allocation when the whole batch is stored (see the .cc for why not
  // otherwise).
  absl::StatusOr<std::vector<absl::StatusOr<PublishResult>>> PublishSerializedBatch(
      std::string batch) override;
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeSpec& spec) override;
  absl::Status Ack(absl::string_view ack_id) override;
  absl::Status Nack(absl::string_view ack_id, absl::Duration delay) override;
  absl::StatusOr<MessagePtr> Request(absl::string_view topic, v1::Envelope envelope,
                                     absl::Time deadline) override;

  const MessageLog& log() const { return *log_; }
  // Writes every changed group state now (also done periodically and on
  // destruction).
  absl::Status SaveGroups();

 private:
  class Reader;
  class EphemeralReader;
  class GroupReader;
  struct PendingPublish;
  struct Inbox;
  struct SerializedBatch;

  EmbeddedBroker(std::unique_ptr<MessageLog> log, EmbeddedBrokerOptions options);
  absl::Status Restore();
  // Whether a message may be stored: topic checked, envelope defaults filled,
  // size bounded.
  absl::Status Admit(absl::string_view topic, v1::Envelope& envelope, absl::Time now) const;
  // A message to store, admitted.
  absl::StatusOr<std::shared_ptr<Message>> Prepare(absl::string_view topic,
                                                   v1::Envelope envelope, absl::Time now) const;
  // RESOURCE_EXHAUSTED for an envelope over the size limit.
  absl::Status CheckSize(size_t envelope_size) const;
  // Stores `messages` through the group commit, de-duplicating by id.
  // `one_allocation`: the messages share one allocation (a publish batch).
  std::vector<absl::StatusOr<PublishResult>> Store(std::vector<std::shared_ptr<Message>> messages,
                                                   bool deduplicate, bool one_allocation = false);
  // A publish to an inbox: handed to the waiting requester, never stored.
  absl::StatusOr<PublishResult> Reply(absl::string_view topic, v1::Envelope envelope);
  absl::Status PublishDeadLetter(const ConsumerGroup& group, const MessagePtr& message);
  absl::StatusOr<std::shared_ptr<ConsumerGroup>> FindOrCreateGroup(const SubscribeSpec& spec);
  // The group an ack id names (null when it is gone) and the sequence.
  absl::StatusOr<std::pair<std::shared_ptr<ConsumerGroup>, uint64_t>> FindAcked(
      absl::string_view ack_id);
  absl::Status SaveGroup(ConsumerGroup& group);
  void Wake();
  void Maintain();

  const EmbeddedBrokerOptions options_;
  const std::unique_ptr<MessageLog> log_;

  // Publishing: one leader appends everything pending as one batch.
  absl::Mutex publish_mu_;
  std::vector<PendingPublish*> pending_ ABSL_GUARDED_BY(publish_mu_);
  bool writing_ ABSL_GUARDED_BY(publish_mu_) = false;
  DedupWindow dedup_ ABSL_GUARDED_BY(publish_mu_);
  // Ids of messages pending or being written, for duplicates racing them
  // (views of the ids in the pending messages, which outlive their entries).
  absl::flat_hash_map<absl::string_view, std::shared_ptr<PendingPublish>> unwritten_ids_
      ABSL_GUARDED_BY(publish_mu_);

  // Readers wait here for news: a new batch in the log, a nack, a request.
  absl::Mutex wake_mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(wake_mu_) = 0;

  // Live readers (for requests) and consumer groups.
  absl::Mutex readers_mu_;
  std::map<uint64_t, Reader*> readers_ ABSL_GUARDED_BY(readers_mu_);
  uint64_t next_reader_id_ ABSL_GUARDED_BY(readers_mu_) = 1;
  std::map<std::string, std::shared_ptr<ConsumerGroup>, std::less<>> groups_
      ABSL_GUARDED_BY(readers_mu_);
  std::map<std::string, uint64_t, std::less<>> group_turn_ ABSL_GUARDED_BY(readers_mu_);

  // Requests waiting for their reply, by inbox topic.
  absl::Mutex inbox_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Inbox>> inboxes_ ABSL_GUARDED_BY(inbox_mu_);

  absl::Mutex save_mu_;
  absl::Mutex maintain_mu_;
  bool stopping_ ABSL_GUARDED_BY(maintain_mu_) = false;
  std::thread maintainer_;
};

}  // namespace kei::bus
