// Implementation of the built-in actions.
#include "tools/keid/agent/actions.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace kei::agent {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Declared parameters of one action.
struct ActionSpec {
  const char* name;
  std::vector<const char*> params;
};

const std::vector<ActionSpec>& Specs() {
  static const auto* specs = new std::vector<ActionSpec>{
      {"add", {"values"}},   {"count_words", {"text"}}, {"echo", {"text"}},
      {"sleep", {"ms"}},     {"uppercase", {"text"}},
  };
  return *specs;
}

const ActionSpec* FindSpec(absl::string_view name) {
  for (const ActionSpec& spec : Specs()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::StatusOr<std::string> RequireText(const Struct& params) {
  auto it = params.fields().find("text");
  if (it == params.fields().end()) return Invalid("params.text", "required string");
  if (it->second.kind_case() != Value::kStringValue) {
    return Invalid("params.text", "must be a string");
  }
  if (it->second.string_value().size() > kMaxActionTextBytes) {
    return Invalid("params.text",
                   absl::StrCat("must be at most ", kMaxActionTextBytes, " bytes"));
  }
  return it->second.string_value();
}

absl::StatusOr<std::vector<double>> RequireValues(const Struct& params) {
  auto it = params.fields().find("values");
  if (it == params.fields().end()) {
    return Invalid("params.values", "required list of numbers");
  }
  if (it->second.kind_case() != Value::kListValue) {
    return Invalid("params.values", "must be a list of numbers");
  }
  const auto& list = it->second.list_value().values();
  if (static_cast<size_t>(list.size()) > kMaxAddValues) {
    return Invalid("params.values",
                   absl::StrCat("must have at most ", kMaxAddValues, " numbers"));
  }
  std::vector<double> values;
  values.reserve(list.size());
  for (int i = 0; i < list.size(); ++i) {
    const std::string field = absl::StrCat("params.values[", i, "]");
    if (list[i].kind_case() != Value::kNumberValue) {
      return Invalid(field, "must be a number");
    }
    if (!std::isfinite(list[i].number_value())) {
      return Invalid(field, "must be a finite number");
    }
    values.push_back(list[i].number_value());
  }
  return values;
}

absl::StatusOr<double> RequireMs(const Struct& params) {
  auto it = params.fields().find("ms");
  if (it == params.fields().end()) return Invalid("params.ms", "required number");
  if (it->second.kind_case() != Value::kNumberValue) {
    return Invalid("params.ms", "must be a number");
  }
  const double ms = it->second.number_value();
  if (!(ms >= 0 && ms <= kMaxSleepMs)) {  // also rejects NaN
    return Invalid("params.ms", "must be between 0 and 60000");
  }
  return ms;
}

// Formats a number the way JSON would show it: integers without ".0".
std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 1e15) {
    return absl::StrFormat("%.0f", v);
  }
  return absl::StrFormat("%.17g", v);
}

Value StringValue(std::string s) {
  Value v;
  v.set_string_value(std::move(s));
  return v;
}

Value NumberValue(double d) {
  Value v;
  v.set_number_value(d);
  return v;
}

size_t CountWords(absl::string_view text) {
  size_t n = 0;
  for (absl::string_view word :
       absl::StrSplit(text, absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty())) {
    (void)word;
    ++n;
  }
  return n;
}

}  // namespace

const std::vector<std::string>& ActionNames() {
  static const auto* names = [] {
    auto* out = new std::vector<std::string>;
    for (const ActionSpec& spec : Specs()) out->push_back(spec.name);
    return out;
  }();
  return *names;
}

absl::Status ValidateAction(absl::string_view action, const Struct& params) {
  if (action.empty()) return Invalid("action", "must not be empty");
  const ActionSpec* spec = FindSpec(action);
  if (spec == nullptr) {
    return Invalid("action", absl::StrCat("unknown action '", Abbreviate(action),
                                          "' (known: ", absl::StrJoin(ActionNames(), ", "),
                                          ")"));
  }
  // Reject parameters the action does not take, in a stable (sorted) order,
  // so a typo such as "value" for "values" is reported rather than ignored.
  std::vector<std::string> unknown;
  for (const auto& [key, value] : params.fields()) {
    bool known = false;
    for (const char* p : spec->params) known = known || key == p;
    if (!known) unknown.push_back(key);
  }
  if (!unknown.empty()) {
    std::sort(unknown.begin(), unknown.end());
    return Invalid(absl::StrCat("params.", Abbreviate(unknown.front())),
                   absl::StrCat("unknown parameter for action '", spec->name,
                                "' (takes: ", absl::StrJoin(spec->params, ", "), ")"));
  }
  const std::string name = spec->name;
  if (name == "add") return RequireValues(params).status();
  if (name == "sleep") return RequireMs(params).status();
  return RequireText(params).status();
}

absl::StatusOr<ActionResult> RunAction(const Context& context,
                                       absl::string_view action,
                                       const Struct& params) {
  if (absl::Status s = ValidateAction(action, params); !s.ok()) return s;
  ActionResult result;
  if (action == "echo") {
    std::string text = *RequireText(params);
    result.summary = absl::StrCat("echoed \"", Abbreviate(text), "\"");
    result.output = StringValue(std::move(text));
  } else if (action == "uppercase") {
    std::string text = absl::AsciiStrToUpper(*RequireText(params));
    result.summary = absl::StrCat("uppercased to \"", Abbreviate(text), "\"");
    result.output = StringValue(std::move(text));
  } else if (action == "count_words") {
    const size_t n = CountWords(*RequireText(params));
    result.summary = absl::StrCat("counted ", n, n == 1 ? " word" : " words");
    result.output = NumberValue(static_cast<double>(n));
  } else if (action == "add") {
    const std::vector<double> values = *RequireValues(params);
    double sum = 0;
    for (double v : values) sum += v;
    if (!std::isfinite(sum)) return Invalid("params.values", "sum is out of range");
    result.summary = absl::StrCat("added ", values.size(),
                                  values.size() == 1 ? " number" : " numbers",
                                  " to get ", FormatNumber(sum));
    result.output = NumberValue(sum);
  } else if (action == "sleep") {
    const double ms = *RequireMs(params);
    const absl::Time start = absl::Now();
    if (!context.SleepFor(absl::Milliseconds(ms))) {
      const int64_t slept = absl::ToInt64Milliseconds(absl::Now() - start);
      if (context.cancelled()) {
        return absl::CancelledError(
            absl::StrCat("sleep: cancelled after ", slept, " of ", FormatNumber(ms), " ms"));
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "sleep: deadline exceeded after ", slept, " of ", FormatNumber(ms), " ms"));
    }
    result.summary = absl::StrCat("slept ", FormatNumber(ms), " ms");
    result.output = NumberValue(ms);
  }
  return result;
}

std::string Abbreviate(absl::string_view text, size_t max_bytes) {
  std::string out;
  if (text.size() <= max_bytes) {
    out = std::string(text);
  } else {
    size_t cut = max_bytes >= 3 ? max_bytes - 3 : 0;
    // Back up over UTF-8 continuation bytes (10xxxxxx) to a character start.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    out = absl::StrCat(text.substr(0, cut), "...");
  }
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

}  // namespace kei::agent
