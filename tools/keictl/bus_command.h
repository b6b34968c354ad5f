// keictl bus pub|sub|request: the KEI bus from the command line through
// KEIBusClient, one JSON object per output line. Kept apart from main.cc,
// which only routes the bus flags and arguments here.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/bus/kei_bus_client.h"
#include "clients/call_options.h"

namespace keictl {

// What `keictl bus ...` was asked to do.
struct BusCommand {
  enum class Kind { kPub, kSub, kRequest };
  Kind kind = Kind::kPub;
  std::string url;
  std::string topic;  // sub: a topic or pattern
  // pub, request: the message.
  kei::bus::v1::Envelope envelope;
  // sub: the subscription, how many deliveries to print (0: no limit), how
  // long to wait for one, and whether to ack group deliveries once printed.
  kei::SubscribeOptions subscribe;
  int64_t count = 0;
  absl::Duration idle_timeout = absl::InfiniteDuration();
  bool ack = true;
};

// Whether `flag` is one of the bus commands' own flags; `*takes_value` tells
// whether a value follows it.
bool IsBusFlag(absl::string_view flag, bool* takes_value);

// `args`: the arguments after "bus"; `flags`: the bus flags given, with their
// values; `timeout`: --timeout-ms when given (sub's idle timeout).
// INVALID_ARGUMENT with a usage message when something is wrong.
absl::StatusOr<BusCommand> ParseBusCommand(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& flags,
    std::optional<absl::Duration> timeout);

// Runs `command`, printing to `out`; `call` carries metadata and the deadline
// of pub, request and acks. A failure's status is what keictl exits with.
absl::Status RunBusCommand(kei::KEIBusClient& client, const BusCommand& command,
                           const kei::CallOptions& call, std::ostream& out);

// A delivery as `bus sub` and `bus request` print it, with CloudEvents JSON
// attribute names: topic, sequence, id, source, type, subject, time, attempt,
// reply_to, datacontenttype, and the payload as `data` (JSON content as JSON,
// text as a string, a protobuf message of a known type as its JSON) or else
// as `data_base64`.
nlohmann::ordered_json DeliveryJson(const kei::bus::v1::Delivery& delivery);

}  // namespace keictl
