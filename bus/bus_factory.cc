#include "bus/bus_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bus/embedded_broker.h"
#include "bus/log/memory_log.h"
#include "bus/nats/nats_backend.h"

namespace kei::bus {
namespace {

const char* FsyncName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kEveryWrite: return "always";
    case FsyncPolicy::kInterval: return "interval";
    case FsyncPolicy::kNever: return "never";
  }
  return "?";
}

}  // namespace

absl::StatusOr<std::shared_ptr<Backend>> OpenBus(const BusConfig& config) {
  if (config.engine == BusConfig::Engine::kNats) {
    NatsBackendOptions options;
    options.url = config.nats_url;
    options.stream_name = config.nats_stream;
    options.subject_prefix = config.nats_subject_prefix;
    options.duplicate_window = config.duplicate_window;
    auto backend = NatsBackend::Connect(options);
    if (!backend.ok()) return backend.status();
    return std::shared_ptr<Backend>(*std::move(backend));
  }
  std::unique_ptr<MessageLog> log;
  EmbeddedBrokerOptions options;
  options.duplicate_window = config.duplicate_window;
  options.max_message_bytes = config.max_message_bytes;
  if (config.storage == BusConfig::Storage::kFile) {
    if (config.directory.empty()) {
      return absl::InvalidArgumentError("the durable bus needs a directory");
    }
    FileLogOptions log_options;
    log_options.directory = absl::StrCat(config.directory, "/log");
    log_options.retention = config.retention;
    log_options.fsync = config.fsync;
    log_options.fsync_interval = config.fsync_interval;
    log_options.segment_bytes = config.segment_bytes;
    auto file_log = FileLog::Open(log_options);
    if (!file_log.ok()) return file_log.status();
    log = *std::move(file_log);
    options.state_directory = config.directory;
  } else {
    log = std::make_unique<MemoryLog>(config.retention);
  }
  auto broker = EmbeddedBroker::Open(std::move(log), options);
  if (!broker.ok()) return broker.status();
  return std::shared_ptr<Backend>(*std::move(broker));
}

std::string DescribeBus(const BusConfig& config) {
  if (config.engine == BusConfig::Engine::kNats) {
    return absl::StrCat("NATS JetStream ", config.nats_url, " (stream ", config.nats_stream, ")");
  }
  if (config.storage == BusConfig::Storage::kMemory) return "embedded broker, in memory";
  return absl::StrCat("embedded broker, durable log in ", config.directory, " (fsync ",
                      FsyncName(config.fsync), ")");
}

}  // namespace kei::bus
