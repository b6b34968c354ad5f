#include "bus/subject.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kei::bus {
namespace {

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

absl::Status Validate(absl::string_view what, absl::string_view name, bool wildcards) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (name.size() > kMaxTopicLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxTopicLength, " characters"));
  }
  std::vector<absl::string_view> tokens = absl::StrSplit(name, '.');
  for (size_t i = 0; i < tokens.size(); ++i) {
    absl::string_view token = tokens[i];
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", name, "' has an empty token (leading, trailing or double '.')"));
    }
    if (wildcards && token == "*") continue;
    if (wildcards && token == ">") {
      if (i + 1 != tokens.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " '", name, "': '>' must be the last token"));
      }
      continue;
    }
    for (char c : token) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " '", name, "' has a bad character '", absl::string_view(&c, 1),
            wildcards ? "' (tokens are [A-Za-z0-9_-], '*' or a final '>')"
                      : "' (tokens are [A-Za-z0-9_-]; wildcards only in subscriptions)"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTopic(absl::string_view topic) { return Validate("topic", topic, false); }

absl::Status ValidatePattern(absl::string_view pattern) {
  return Validate("topic pattern", pattern, true);
}

absl::Status ValidateGroup(const SubscribeSpec& spec) {
  const std::string& group = spec.group;
  if (group.empty() || group.size() > 64) {
    return absl::InvalidArgumentError("group names are 1-64 characters");
  }
  for (char c : group) {
    if (!IsTokenChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("group '", group, "' has a bad character (allowed: [A-Za-z0-9_-])"));
    }
  }
  const GroupOptions& o = spec.group_options;
  if (o.ack_wait < absl::Milliseconds(1) || o.ack_wait > kMaxGroupDelay) {
    return absl::InvalidArgumentError("ack_wait must be between 1 ms and 24 h");
  }
  if (o.max_ack_pending == 0) return absl::InvalidArgumentError("max_ack_pending must be positive");
  for (absl::Duration d : o.backoff) {
    if (d < absl::ZeroDuration() || d > kMaxGroupDelay) {
      return absl::InvalidArgumentError("backoff delays must be between 0 and 24 h");
    }
  }
  std::string dead_letters = o.dead_letter_topic.empty() ? absl::StrCat("deadletter.", group)
                                                          : o.dead_letter_topic;
  if (auto s = ValidateTopic(dead_letters); !s.ok()) return s;
  if (TopicMatches(spec.pattern, dead_letters)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group '", group, "' would read its own dead letters ('", dead_letters, "' matches '",
        spec.pattern, "'): set dead_letter_topic outside the pattern"));
  }
  return absl::OkStatus();
}

bool IsWildcardPattern(absl::string_view pattern) {
  for (absl::string_view token : absl::StrSplit(pattern, '.')) {
    if (token == "*" || token == ">") return true;
  }
  return false;
}

bool TopicMatches(absl::string_view pattern, absl::string_view topic) {
  while (true) {
    size_t p_dot = pattern.find('.');
    size_t t_dot = topic.find('.');
    absl::string_view p = pattern.substr(0, p_dot);
    absl::string_view t = topic.substr(0, t_dot);
    if (p == ">") return !topic.empty();
    if (p != "*" && p != t) return false;
    if (p_dot == absl::string_view::npos || t_dot == absl::string_view::npos) {
      return p_dot == absl::string_view::npos && t_dot == absl::string_view::npos;
    }
    pattern.remove_prefix(p_dot + 1);
    topic.remove_prefix(t_dot + 1);
  }
}

}  // namespace kei::bus
