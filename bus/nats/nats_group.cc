// Consumer groups as durable JetStream pull consumers; see nats_group.h.
#include "bus/nats/nats_group.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bus/subject.h"

namespace kei::bus::nats {
namespace {

// Marks a consumer description written by Describe.
constexpr absl::string_view kDescriptionTag = "kei-bus group";

// "kei-bus group; ack_wait=30s; max_deliveries=5; backoff=1s,5s;
// dead_letter_topic=; max_ack_pending=1024[; not_before=<unix nanos>]"
std::string Describe(const GroupSettings& settings) {
  const GroupOptions& o = settings.options;
  std::vector<std::string> backoff;
  for (absl::Duration d : o.backoff) backoff.push_back(absl::FormatDuration(d));
  std::string text = absl::StrCat(
      kDescriptionTag, "; ack_wait=", absl::FormatDuration(o.ack_wait),
      "; max_deliveries=", o.max_deliveries, "; backoff=", absl::StrJoin(backoff, ","),
      "; dead_letter_topic=", o.dead_letter_topic, "; max_ack_pending=", o.max_ack_pending);
  if (settings.not_before != absl::InfinitePast()) {
    absl::StrAppend(&text, "; not_before=", absl::ToUnixNanos(settings.not_before));
  }
  return text;
}

std::optional<GroupSettings> ParseDescription(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, kDescriptionTag)) return std::nullopt;
  GroupSettings settings;
  GroupOptions& o = settings.options;
  for (absl::string_view field : absl::StrSplit(text, "; ", absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    auto [key, value] = kv;
    bool ok = true;
    if (key == "ack_wait") {
      ok = absl::ParseDuration(value, &o.ack_wait);
    } else if (key == "max_deliveries") {
      ok = absl::SimpleAtoi(value, &o.max_deliveries);
    } else if (key == "backoff") {
      for (absl::string_view piece : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        absl::Duration d;
        ok = ok && absl::ParseDuration(piece, &d);
        o.backoff.push_back(d);
      }
    } else if (key == "dead_letter_topic") {
      o.dead_letter_topic = std::string(value);
    } else if (key == "max_ack_pending") {
      ok = absl::SimpleAtoi(value, &o.max_ack_pending);
    } else if (key == "not_before") {
      int64_t nanos = 0;
      ok = absl::SimpleAtoi(value, &nanos);
      settings.not_before = absl::FromUnixNanos(nanos);
    }
    if (!ok) return std::nullopt;
  }
  return settings;
}

// An existing group's consumer: the pattern it reads and the settings it
// keeps (`fallback` when it was not created by a KEI bus).
struct Existing {
  std::string pattern;
  GroupSettings settings;
};

absl::StatusOr<std::optional<Existing>> Lookup(NatsConnection& connection,
                                               const std::string& group,
                                               const GroupSettings& fallback) {
  jsConsumerInfo* info = nullptr;
  jsErrCode js_error{};
  natsStatus s = js_GetConsumerInfo(&info, connection.js(),
                                    connection.options().stream_name.c_str(), group.c_str(),
                                    nullptr, &js_error);
  if (s == NATS_NOT_FOUND || js_error == JSConsumerNotFoundErr) return std::nullopt;
  if (s != NATS_OK) return NatsError(absl::StrCat("looking up group '", group, "'"), s, js_error);
  const jsConsumerConfig& config = *info->Config;
  Existing existing{
      connection.TopicOfMsg(config.FilterSubject != nullptr ? config.FilterSubject : ""),
      ParseDescription(config.Description != nullptr ? config.Description : "")
          .value_or(fallback)};
  jsConsumerInfo_Destroy(info);
  return existing;
}

natsStatus CreateConsumer(NatsConnection& connection, const SubscribeSpec& spec,
                          const GroupSettings& settings, uint64_t last_sequence,
                          jsErrCode* js_error) {
  const GroupOptions& o = settings.options;
  std::string filter = connection.MsgSubject(spec.pattern);
  std::string description = Describe(settings);
  // JetStream's BackOff replaces the ack wait of each attempt, so a missed ack
  // deadline plus the backoff delay is one BackOff entry.
  std::vector<int64_t> backoff;
  for (absl::Duration d : o.backoff) backoff.push_back(absl::ToInt64Nanoseconds(o.ack_wait + d));
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = spec.group.c_str();
  config.Description = description.c_str();
  config.FilterSubject = filter.c_str();
  config.AckPolicy = js_AckExplicit;
  config.AckWait = absl::ToInt64Nanoseconds(o.ack_wait);
  config.MaxAckPending = o.max_ack_pending;
  config.BackOff = backoff.empty() ? nullptr : backoff.data();
  config.BackOffLen = static_cast<int>(backoff.size());
  // Subscriptions enforce max_deliveries (dead letters), so JetStream
  // redelivers without limit; with a BackOff it wants a bound above its length.
  config.MaxDeliver = backoff.empty() ? -1 : std::numeric_limits<int32_t>::max();
  ApplyStart(spec.start, last_sequence, &config);
  return js_AddConsumer(nullptr, connection.js(), connection.options().stream_name.c_str(),
                        &config, nullptr, js_error);
}

}  // namespace

absl::StatusOr<GroupSettings> JoinGroup(NatsConnection& connection, const SubscribeSpec& spec,
                                        uint64_t last_sequence) {
  GroupSettings mine{spec.group_options};
  if (spec.start.kind == StartPosition::Kind::kTime) mine.not_before = spec.start.time;
  for (int attempt = 0;; ++attempt) {
    auto existing = Lookup(connection, spec.group, mine);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      const Existing& group = **existing;
      if (group.pattern != spec.pattern) {
        return absl::FailedPreconditionError(absl::StrCat(
            "group '", spec.group, "' reads '", group.pattern, "', not '", spec.pattern, "'"));
      }
      connection.RememberGroup(spec.group, group.settings.options);
      return group.settings;
    }
    jsErrCode js_error{};
    natsStatus s = CreateConsumer(connection, spec, mine, last_sequence, &js_error);
    if (s == NATS_OK) {
      connection.RememberGroup(spec.group, mine.options);
      return mine;
    }
    // Another member may have created it meanwhile: look once more.
    if (attempt > 0) {
      return NatsError(absl::StrCat("creating group '", spec.group, "'"), s, js_error);
    }
  }
}

absl::StatusOr<GroupOptions> FindGroup(NatsConnection& connection, const std::string& group) {
  if (auto known = connection.KnownGroup(group)) return *known;
  auto existing = Lookup(connection, group, GroupSettings{});
  if (!existing.ok()) return existing.status();
  if (!existing->has_value()) {
    return absl::NotFoundError(absl::StrCat("no group '", group, "'"));
  }
  connection.RememberGroup(group, (*existing)->settings.options);
  return (*existing)->settings.options;
}

std::string DeadLetterTopic(const std::string& group, const GroupOptions& options) {
  return options.dead_letter_topic.empty() ? absl::StrCat("deadletter.", group)
                                           : options.dead_letter_topic;
}

absl::Duration Backoff(const GroupOptions& options, uint32_t attempt) {
  if (options.backoff.empty()) return absl::ZeroDuration();
  size_t index = std::min<size_t>(attempt == 0 ? 0 : attempt - 1, options.backoff.size() - 1);
  return options.backoff[index];
}

}  // namespace kei::bus::nats
