// The bus subcommand of keictl: argument parsing, the three commands, and how
// deliveries are printed.
#include "tools/keictl/bus_command.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cc/codec/json_codec.h"
#include "cc/codec/proto_time.h"

namespace keictl {
namespace {

using kei::bus::v1::Delivery;
using kei::bus::v1::Envelope;

struct FlagSpec {
  absl::string_view name;
  bool takes_value;
  bool for_sub;  // else for pub and request
};

constexpr FlagSpec kFlags[] = {
    {"--type", true, false},  {"--source", true, false}, {"--id", true, false},
    {"--content-type", true, false}, {"--group", true, true}, {"--from", true, true},
    {"--count", true, true},  {"--ack", false, true},    {"--no-ack", false, true},
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const auto& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// --from new|all|<sequence>|<RFC 3339 time>
absl::Status ParseStart(const std::string& value, kei::SubscribeOptions& subscribe) {
  uint64_t sequence = 0;
  absl::Time time;
  std::string error;
  if (value == "new") {
    subscribe.StartNew();
  } else if (value == "all") {
    subscribe.StartAll();
  } else if (absl::SimpleAtoi(value, &sequence)) {
    subscribe.StartAtSequence(sequence);
  } else if (absl::ParseTime(absl::RFC3339_full, value, &time, &error)) {
    subscribe.StartAtTime(time);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--from needs new, all, a sequence or an RFC 3339 time, not '", value, "'"));
  }
  return absl::OkStatus();
}

// The media type of a content type, lower case, without parameters.
std::string MediaType(absl::string_view content_type) {
  return absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';'))));
}

bool IsJsonType(const std::string& media) {
  return media == "application/json" || media == "text/json" || absl::EndsWith(media, "+json");
}

// `data` or `data_base64`, as the CloudEvents JSON format puts them.
void PutData(const Envelope& envelope, nlohmann::ordered_json& out) {
  if (envelope.has_proto_data()) {
    // As JSON when the message type is compiled in or loaded (--protoset).
    std::string json;
    if (kei::JsonCodec().Marshal(envelope.proto_data(), &json).ok()) {
      auto doc = nlohmann::ordered_json::parse(json, nullptr, false);
      if (!doc.is_discarded()) {
        out["data"] = std::move(doc);
        return;
      }
    }
    out["data_base64"] = absl::Base64Escape(envelope.proto_data().value());
    return;
  }
  if (envelope.data_case() != Envelope::kBinaryData) return;
  const std::string& data = envelope.binary_data();
  std::string media = MediaType(envelope.datacontenttype());
  if (IsJsonType(media)) {
    auto doc = nlohmann::ordered_json::parse(data, nullptr, false);
    if (!doc.is_discarded()) {
      out["data"] = std::move(doc);
      return;
    }
  }
  if (media.empty() || IsJsonType(media) || absl::StartsWith(media, "text/")) {
    out["data"] = data;
  } else {
    out["data_base64"] = absl::Base64Escape(data);
  }
}

std::string Rfc3339(const google::protobuf::Timestamp& time) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", kei::TimeFromProto(time), absl::UTCTimeZone());
}

// One output line; text that is not UTF-8 is printed with replacement characters.
std::string Line(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

absl::Status RunSub(kei::KEIBusClient& client, const BusCommand& command,
                    const kei::CallOptions& call, std::ostream& out) {
  kei::CallOptions stream_call;  // no deadline: it runs until done
  stream_call.metadata = call.metadata;
  auto subscription = client.Subscribe(command.topic, command.subscribe, stream_call);
  if (!subscription.ok()) return subscription.status();
  for (int64_t printed = 0; command.count == 0 || printed < command.count; ++printed) {
    auto next = (*subscription)->Next(command.idle_timeout);
    if (!next.ok()) return next.status();
    if (!next->has_value()) {
      if (printed > 0) return absl::OkStatus();
      return absl::DeadlineExceededError(
          absl::StrCat("no delivery on '", command.topic, "' within ",
                       absl::ToInt64Milliseconds(command.idle_timeout), " ms"));
    }
    const Delivery& delivery = **next;
    out << Line(DeliveryJson(delivery)) << std::endl;
    if (command.ack && !delivery.ack_id().empty()) {
      if (absl::Status s = client.Ack(delivery, call); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RunRequest(kei::KEIBusClient& client, const BusCommand& command,
                        const kei::CallOptions& call, std::ostream& out) {
  auto reply = client.Request(command.topic, command.envelope, call.timeout, call);
  if (reply.ok()) {
    out << Line(DeliveryJson(*reply)) << std::endl;
    return absl::OkStatus();
  }
  const absl::Status& status = reply.status();
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::DeadlineExceededError(
        absl::StrCat("no reply to the request on '", command.topic, "' within ",
                     absl::ToInt64Milliseconds(call.timeout), " ms"));
  }
  if (status.code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(
        absl::StrCat("request on '", command.topic, "': ", status.message()));
  }
  return status;
}

}  // namespace

bool IsBusFlag(absl::string_view flag, bool* takes_value) {
  const FlagSpec* spec = FindFlag(flag);
  if (spec != nullptr) *takes_value = spec->takes_value;
  return spec != nullptr;
}

absl::StatusOr<BusCommand> ParseBusCommand(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& flags,
    std::optional<absl::Duration> timeout) {
  if (args.empty()) return absl::InvalidArgumentError("bus needs pub, sub or request");
  const std::string& verb = args[0];
  BusCommand command;
  if (verb == "pub") {
    command.kind = BusCommand::Kind::kPub;
  } else if (verb == "sub") {
    command.kind = BusCommand::Kind::kSub;
  } else if (verb == "request") {
    command.kind = BusCommand::Kind::kRequest;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown bus command '", verb, "'"));
  }
  const bool sub = command.kind == BusCommand::Kind::kSub;
  if (args.size() != (sub ? 3u : 4u)) {
    return absl::InvalidArgumentError(sub ? "bus sub needs <target> <pattern>"
                                          : absl::StrCat("bus ", verb,
                                                         " needs <target> <topic> <data>"));
  }
  command.url = args[1];
  command.topic = args[2];
  std::string content_type;
  for (const auto& [flag, value] : flags) {
    const FlagSpec* spec = FindFlag(flag);
    if (spec == nullptr || spec->for_sub != sub) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " is not a flag of bus ", verb));
    }
    if (flag == "--type") {
      command.envelope.set_type(value);
    } else if (flag == "--source") {
      command.envelope.set_source(value);
    } else if (flag == "--id") {
      command.envelope.set_id(value);
    } else if (flag == "--content-type") {
      content_type = value;
    } else if (flag == "--group") {
      command.subscribe.group = value;
    } else if (flag == "--from") {
      if (absl::Status s = ParseStart(value, command.subscribe); !s.ok()) return s;
    } else if (flag == "--count") {
      if (!absl::SimpleAtoi(value, &command.count) || command.count <= 0) {
        return absl::InvalidArgumentError("--count needs a positive integer");
      }
    } else {
      command.ack = flag == "--ack";
    }
  }
  if (sub) {
    if (timeout.has_value()) command.idle_timeout = *timeout;
    return command;
  }
  const std::string& data = args[3];
  if (content_type.empty()) {
    content_type = nlohmann::json::accept(data) ? "application/json" : "text/plain";
  }
  command.envelope.set_binary_data(data);
  command.envelope.set_datacontenttype(content_type);
  return command;
}

absl::Status RunBusCommand(kei::KEIBusClient& client, const BusCommand& command,
                           const kei::CallOptions& call, std::ostream& out) {
  switch (command.kind) {
    case BusCommand::Kind::kPub: {
      auto published = client.Publish(command.topic, command.envelope, call);
      if (!published.ok()) return published.status();
      nlohmann::ordered_json json;
      json["id"] = published->id();
      json["sequence"] = published->sequence();
      json["duplicate"] = published->duplicate();
      out << Line(json) << std::endl;
      return absl::OkStatus();
    }
    case BusCommand::Kind::kSub:
      return RunSub(client, command, call, out);
    case BusCommand::Kind::kRequest:
      return RunRequest(client, command, call, out);
  }
  return absl::InternalError("unknown bus command");
}

nlohmann::ordered_json DeliveryJson(const Delivery& delivery) {
  const Envelope& envelope = delivery.envelope();
  nlohmann::ordered_json json;
  json["topic"] = delivery.topic();
  json["sequence"] = delivery.sequence();
  json["id"] = envelope.id();
  json["source"] = envelope.source();
  json["type"] = envelope.type();
  if (!envelope.subject().empty()) json["subject"] = envelope.subject();
  if (envelope.has_time()) json["time"] = Rfc3339(envelope.time());
  json["attempt"] = delivery.attempt();
  if (!delivery.reply_to().empty()) json["reply_to"] = delivery.reply_to();
  if (!envelope.datacontenttype().empty()) json["datacontenttype"] = envelope.datacontenttype();
  PutData(envelope, json);
  return json;
}

}  // namespace keictl
