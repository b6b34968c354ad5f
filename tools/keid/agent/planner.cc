// Implementation of the deterministic planner.
#include "tools/keid/agent/planner.h"

#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "tools/keid/agent/actions.h"

namespace kei::agent {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Separators that always end a clause, longest first where they overlap.
constexpr absl::string_view kSeparators[] = {" and then ", ", then ", " then ", ";"};
// " and " ends a clause only when an action verb follows it.
constexpr absl::string_view kAnd = " and ";

bool IsVerb(absl::string_view word) {
  static const auto* verbs = new absl::flat_hash_set<std::string>{
      "echo", "say",   "print", "uppercase", "shout",
      "count", "add",  "sum",   "wait",      "sleep"};
  return verbs->contains(absl::AsciiStrToLower(word));
}

// Splits off the first whitespace-delimited word; `rest` is trimmed.
absl::string_view FirstWord(absl::string_view text, absl::string_view* rest) {
  text = absl::StripLeadingAsciiWhitespace(text);
  size_t end = 0;
  while (end < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[end]))) {
    ++end;
  }
  if (rest != nullptr) *rest = absl::StripAsciiWhitespace(text.substr(end));
  return text.substr(0, end);
}

// The leading verb of a clause, lower-cased, without trailing ':' or ','.
std::string Verb(absl::string_view clause, absl::string_view* rest) {
  std::string verb = absl::AsciiStrToLower(FirstWord(clause, rest));
  while (!verb.empty() && (verb.back() == ':' || verb.back() == ',')) verb.pop_back();
  return verb;
}

bool StartsWithVerb(absl::string_view text) { return IsVerb(Verb(text, nullptr)); }

// Drops connectors left at the front of a clause, e.g. "; then echo b".
absl::string_view StripConnectors(absl::string_view clause) {
  while (true) {
    absl::string_view rest;
    const std::string word = absl::AsciiStrToLower(FirstWord(clause, &rest));
    if (word != "then" && word != "and") return clause;
    clause = rest;
  }
}

// "hello" for "\"hello\"" or "'hello'"; otherwise `text` unchanged.
absl::string_view Unquote(absl::string_view text) {
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') &&
      text.back() == text.front()) {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", Abbreviate(text), "\"");
}

struct PlannedStep {
  std::string action;
  Struct params;
  std::string rationale;
};

PlannedStep TextStep(std::string action, absl::string_view text, std::string rationale) {
  PlannedStep step{std::move(action), {}, std::move(rationale)};
  (*step.params.mutable_fields())["text"].set_string_value(std::string(text));
  return step;
}

PlannedStep Fallback(absl::string_view clause, absl::string_view why) {
  return TextStep("echo", clause,
                  absl::StrCat(why, ", so this step echoes the clause ", Quoted(clause),
                               " as written."));
}

PlannedStep PlanCount(absl::string_view clause, absl::string_view rest) {
  // count [the] word(s) [in|of] <text>
  absl::string_view after;
  std::string word = absl::AsciiStrToLower(FirstWord(rest, &after));
  if (word == "the") word = absl::AsciiStrToLower(FirstWord(after, &after));
  if (word != "words" && word != "word") {
    return Fallback(clause, absl::StrCat("No specific action matched ", Quoted(clause),
                                         " (only \"count words in ...\" is known)"));
  }
  absl::string_view text = after;
  const std::string prep = absl::AsciiStrToLower(FirstWord(after, &text));
  if (prep != "in" && prep != "of") text = after;
  text = Unquote(text);
  return TextStep("count_words", text,
                  absl::StrCat(Quoted(clause), " asks for a word count, so this step counts the words in ",
                               Quoted(text), "."));
}

PlannedStep PlanAdd(absl::string_view clause, absl::string_view verb, absl::string_view rest) {
  static const auto* fillers = new absl::flat_hash_set<std::string>{
      "and", "plus", "+", "of", "up", "the", "numbers", "together"};
  PlannedStep step{"add", {}, ""};
  Value* values = &(*step.params.mutable_fields())["values"];
  auto* list = values->mutable_list_value();
  for (absl::string_view token :
       absl::StrSplit(rest, absl::ByAnyChar(" \t\n\r,"), absl::SkipEmpty())) {
    if (fillers->contains(absl::AsciiStrToLower(token))) continue;
    double d;
    if (!absl::SimpleAtod(token, &d) || !std::isfinite(d)) {
      return Fallback(clause, absl::StrCat(Quoted(clause), " starts with '", verb, "' but ",
                                           Quoted(token), " is not a number"));
    }
    list->add_values()->set_number_value(d);
  }
  if (list->values_size() == 0) {
    return Fallback(clause,
                    absl::StrCat(Quoted(clause), " starts with '", verb, "' but names no numbers"));
  }
  step.rationale = absl::StrCat(Quoted(clause), " asks for a sum, so this step adds ",
                                list->values_size(), list->values_size() == 1 ? " number." : " numbers.");
  return step;
}

PlannedStep PlanSleep(absl::string_view clause, absl::string_view verb, absl::string_view rest) {
  // wait|sleep [for] <number>[ ][ms|s|...]
  absl::string_view after;
  if (absl::AsciiStrToLower(FirstWord(rest, &after)) == "for") rest = after;
  rest = absl::StripAsciiWhitespace(rest);
  size_t n = 0;
  while (n < rest.size() && (absl::ascii_isdigit(static_cast<unsigned char>(rest[n])) || rest[n] == '.')) {
    ++n;
  }
  double amount;
  const std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(rest.substr(n)));
  double scale = -1;
  if (unit.empty() || unit == "ms" || unit == "msec" || unit == "millisecond" ||
      unit == "milliseconds") {
    scale = 1;
  } else if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" ||
             unit == "seconds") {
    scale = 1000;
  }
  if (n == 0 || scale < 0 || !absl::SimpleAtod(rest.substr(0, n), &amount)) {
    return Fallback(clause, absl::StrCat(Quoted(clause), " starts with '", verb,
                                         "' but gives no duration such as \"100 ms\""));
  }
  const double ms = amount * scale;
  if (ms > kMaxSleepMs) {
    return Fallback(clause, absl::StrCat(Quoted(clause),
                                         " asks to wait longer than the 60000 ms limit"));
  }
  PlannedStep step{"sleep", {}, ""};
  (*step.params.mutable_fields())["ms"].set_number_value(ms);
  step.rationale = absl::StrCat(Quoted(clause), " asks to pause, so this step sleeps ",
                                absl::StrFormat("%g", ms), " ms.");
  return step;
}

PlannedStep PlanClause(absl::string_view clause) {
  absl::string_view rest;
  const std::string verb = Verb(clause, &rest);
  if (verb == "echo" || verb == "say" || verb == "print") {
    const absl::string_view text = Unquote(rest);
    return TextStep("echo", text,
                    absl::StrCat(Quoted(clause), " asks to repeat text, so this step echoes ",
                                 Quoted(text), "."));
  }
  if (verb == "uppercase" || verb == "shout") {
    const absl::string_view text = Unquote(rest);
    return TextStep("uppercase", text,
                    absl::StrCat(Quoted(clause), " asks for capitals, so this step uppercases ",
                                 Quoted(text), "."));
  }
  if (verb == "count") return PlanCount(clause, rest);
  if (verb == "add" || verb == "sum") return PlanAdd(clause, verb, rest);
  if (verb == "wait" || verb == "sleep") return PlanSleep(clause, verb, rest);
  return Fallback(clause, absl::StrCat("No specific action matched ", Quoted(clause)));
}

uint64_t Fnv1a64(absl::string_view data) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json).ok()) return "{}";
  return json;
}

}  // namespace

std::vector<std::string> SplitClauses(absl::string_view objective) {
  const std::string lower = absl::AsciiStrToLower(objective);
  std::vector<absl::string_view> pieces;
  size_t start = 0;
  size_t i = 0;
  while (i < lower.size()) {
    size_t matched = 0;
    for (absl::string_view sep : kSeparators) {
      if (absl::string_view(lower).substr(i, sep.size()) == sep) {
        matched = sep.size();
        break;
      }
    }
    if (matched == 0 && absl::string_view(lower).substr(i, kAnd.size()) == kAnd &&
        StartsWithVerb(objective.substr(i + kAnd.size()))) {
      matched = kAnd.size();
    }
    if (matched == 0) {
      ++i;
      continue;
    }
    pieces.push_back(objective.substr(start, i - start));
    i += matched;
    start = i;
  }
  pieces.push_back(objective.substr(start));

  std::vector<std::string> clauses;
  for (absl::string_view piece : pieces) {
    piece = absl::StripAsciiWhitespace(StripConnectors(absl::StripAsciiWhitespace(piece)));
    if (!piece.empty()) clauses.emplace_back(piece);
  }
  return clauses;
}

std::string PlanId(absl::string_view objective, int max_steps) {
  return absl::StrFormat("plan-%016x", Fnv1a64(absl::StrCat(objective, "|", max_steps)));
}

absl::StatusOr<v1::PlanResponse> MakePlan(absl::string_view objective, int32_t max_steps) {
  if (absl::StripAsciiWhitespace(objective).empty()) {
    return absl::InvalidArgumentError("objective: must not be empty");
  }
  if (objective.size() > kMaxObjectiveBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective: must be at most ", kMaxObjectiveBytes, " bytes, got ",
                     objective.size()));
  }
  if (max_steps == 0) max_steps = kDefaultMaxSteps;
  if (max_steps < 1 || max_steps > kMaxMaxSteps) {
    return absl::InvalidArgumentError("max_steps: must be between 1 and 64");
  }
  const std::vector<std::string> clauses = SplitClauses(objective);
  if (clauses.empty()) {
    return absl::InvalidArgumentError("objective: names no steps, only separators");
  }

  v1::PlanResponse plan;
  plan.set_plan_id(PlanId(objective, max_steps));
  plan.set_objective(std::string(objective));
  const size_t count = std::min(clauses.size(), static_cast<size_t>(max_steps));
  for (size_t i = 0; i < count; ++i) {
    PlannedStep planned = PlanClause(clauses[i]);
    v1::Step* step = plan.add_steps();
    step->set_index(static_cast<int32_t>(i + 1));
    step->set_action(std::move(planned.action));
    *step->mutable_params() = std::move(planned.params);
    step->set_rationale(std::move(planned.rationale));
  }
  if (clauses.size() > count) {
    v1::Step* last = plan.mutable_steps(static_cast<int>(count) - 1);
    last->set_rationale(absl::StrCat(
        last->rationale(), " The objective has ", clauses.size(),
        " clauses but max_steps is ", max_steps,
        ", so the plan is truncated after this step."));
  }
  return plan;
}

v1::ExplainResponse ExplainPlan(const v1::PlanResponse& plan) {
  v1::ExplainResponse out;
  out.set_plan_id(plan.plan_id());
  std::vector<std::string> actions;
  for (const v1::Step& step : plan.steps()) {
    actions.push_back(step.action());
    out.add_step_explanations(absl::StrCat("Step ", step.index(), " runs ", step.action(),
                                           " with ", Abbreviate(ToJson(step.params()), 120),
                                           ": ", step.rationale()));
  }
  const int n = plan.steps_size();
  out.set_explanation(absl::StrCat(
      "Plan ", plan.plan_id(), " breaks '", Abbreviate(plan.objective(), 200), "' into ", n,
      n == 1 ? " step: " : " steps: ", absl::StrJoin(actions, ", then "),
      ". Each step names a built-in action and its parameters; run it with Act, "
      "passing the plan id and the step index."));
  return out;
}

}  // namespace kei::agent
