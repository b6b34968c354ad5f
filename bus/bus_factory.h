// Opens the bus backend a configuration names: the embedded broker in memory
// or on its durable log, or NATS JetStream. keid builds its bus from this;
// applications embedding a kei::Server can too.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bus/backend.h"
#include "bus/log/file_log.h"
#include "bus/log/message_log.h"

namespace kei::bus {

struct BusConfig {
  enum class Engine { kEmbedded, kNats };
  enum class Storage { kMemory, kFile };
  Engine engine = Engine::kEmbedded;

  // Embedded broker.
  Storage storage = Storage::kMemory;
  std::string directory;  // kFile: the log and consumer group state
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  absl::Duration fsync_interval = absl::Seconds(1);
  uint64_t segment_bytes = uint64_t{64} << 20;
  RetentionPolicy retention{absl::InfiniteDuration(), uint64_t{256} << 20, 0};

  // Both engines.
  absl::Duration duplicate_window = absl::Minutes(2);
  size_t max_message_bytes = 1 << 20;

  // NATS JetStream.
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_stream = "KEI";
  std::string nats_subject_prefix = "kei";
};

absl::StatusOr<std::shared_ptr<Backend>> OpenBus(const BusConfig& config);

// "embedded (memory)", "embedded (file /var/lib/keid/bus, fsync interval)",
// "nats nats://host:4222 (stream KEI)": for logs.
std::string DescribeBus(const BusConfig& config);

}  // namespace kei::bus
