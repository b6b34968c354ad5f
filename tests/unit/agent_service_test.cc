// Unit tests for keid's reference agent service: the handler methods are called
// directly with a kei::Context, streams through an in-test StreamIO; no network.
#include "tools/keid/agent/agent_service.h"

#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/keid/agent/actions.h"
#include "tools/keid/agent/event_log.h"
#include "tools/keid/agent/planner.h"

namespace kei::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// A StreamIO that replays queued requests and records every write.
class FakeStream : public StreamIO {
 public:
  // Writes fail (as if the caller were gone) after this many succeed.
  explicit FakeStream(size_t write_limit = SIZE_MAX) : write_limit_(write_limit) {}

  void AddRequest(const google::protobuf::Message& message) {
    absl::MutexLock lock(&mu_);
    reads_.push_back(message.SerializeAsString());
  }

  bool Read(google::protobuf::Message* message) override {
    absl::MutexLock lock(&mu_);
    if (reads_.empty()) return false;  // half-close
    const bool ok = message->ParseFromString(reads_.front());
    reads_.pop_front();
    return ok;
  }

  bool Write(const google::protobuf::Message& message) override {
    absl::MutexLock lock(&mu_);
    if (writes_.size() >= write_limit_) return false;
    writes_.push_back(message.SerializeAsString());
    return true;
  }

  // Waits up to `timeout` for at least `n` writes.
  bool WaitForWrites(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return writes_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  template <class T>
  std::vector<T> Written() {
    absl::MutexLock lock(&mu_);
    std::vector<T> out;
    for (const std::string& bytes : writes_) {
      out.emplace_back();
      EXPECT_TRUE(out.back().ParseFromString(bytes));
    }
    return out;
  }

 private:
  const size_t write_limit_;
  absl::Mutex mu_;
  std::deque<std::string> reads_;
  std::vector<std::string> writes_;
};

google::protobuf::Struct TextParams(const std::string& text) {
  google::protobuf::Struct s;
  (*s.mutable_fields())["text"].set_string_value(text);
  return s;
}

google::protobuf::Struct NumberParams(const std::string& key, double value) {
  google::protobuf::Struct s;
  (*s.mutable_fields())[key].set_number_value(value);
  return s;
}

google::protobuf::Struct ValuesParams(const std::vector<double>& values) {
  google::protobuf::Struct s;
  auto* list = (*s.mutable_fields())["values"].mutable_list_value();
  for (double v : values) list->add_values()->set_number_value(v);
  return s;
}

v1::ActRequest ActReq(const std::string& action, google::protobuf::Struct params) {
  v1::ActRequest r;
  r.set_action(action);
  *r.mutable_params() = std::move(params);
  return r;
}

v1::PlanRequest PlanReq(const std::string& objective, int max_steps = 0) {
  v1::PlanRequest r;
  r.set_objective(objective);
  r.set_max_steps(max_steps);
  return r;
}

std::vector<std::string> Actions(const v1::PlanResponse& plan) {
  std::vector<std::string> out;
  for (const auto& step : plan.steps()) out.push_back(step.action());
  return out;
}

void ExpectStatus(const absl::Status& status, absl::StatusCode code,
                  const std::string& message) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_EQ(status.message(), message);
}

// ---------------------------------------------------------------- actions

TEST(ActionsTest, EchoUppercaseCountWordsAdd) {
  AgentService service;
  Context ctx;
  v1::ActResponse r;

  ASSERT_TRUE(service.Act(ctx, ActReq("echo", TextParams("hello world")), &r).ok());
  EXPECT_EQ(r.action(), "echo");
  EXPECT_EQ(r.output().string_value(), "hello world");
  EXPECT_EQ(r.summary(), "echoed \"hello world\"");
  EXPECT_EQ(r.event_sequence(), 1u);

  ASSERT_TRUE(service.Act(ctx, ActReq("uppercase", TextParams("Hi there")), &r).ok());
  EXPECT_EQ(r.output().string_value(), "HI THERE");

  ASSERT_TRUE(service.Act(ctx, ActReq("count_words", TextParams("  a b\tc\n d ")), &r).ok());
  EXPECT_EQ(r.output().number_value(), 4);
  EXPECT_EQ(r.summary(), "counted 4 words");

  ASSERT_TRUE(service.Act(ctx, ActReq("add", ValuesParams({1, 2, 3.5})), &r).ok());
  EXPECT_EQ(r.output().number_value(), 6.5);
  ASSERT_TRUE(service.Act(ctx, ActReq("add", ValuesParams({})), &r).ok());
  EXPECT_EQ(r.output().number_value(), 0);

  ASSERT_TRUE(service.Act(ctx, ActReq("sleep", NumberParams("ms", 5)), &r).ok());
  EXPECT_EQ(r.output().number_value(), 5);
  EXPECT_EQ(r.summary(), "slept 5 ms");
  EXPECT_EQ(r.event_sequence(), 6u);
  EXPECT_EQ(ActionNames(),
            (std::vector<std::string>{"add", "count_words", "echo", "sleep", "uppercase"}));
}

TEST(ActionsTest, ValidationErrorsNameTheField) {
  AgentService service;
  Context ctx;
  v1::ActResponse r;
  const auto invalid = absl::StatusCode::kInvalidArgument;

  ExpectStatus(service.Act(ctx, ActReq("echo", {}), &r), invalid, "params.text: required string");
  ExpectStatus(service.Act(ctx, ActReq("uppercase", NumberParams("text", 1)), &r), invalid,
               "params.text: must be a string");
  ExpectStatus(service.Act(ctx, ActReq("count_words", {}), &r), invalid,
               "params.text: required string");
  ExpectStatus(service.Act(ctx, ActReq("add", {}), &r), invalid,
               "params.values: required list of numbers");
  ExpectStatus(service.Act(ctx, ActReq("add", TextParams("1 2")), &r), invalid,
               "params.text: unknown parameter for action 'add' (takes: values)");

  google::protobuf::Struct bad_values = ValuesParams({1, 2});
  (*bad_values.mutable_fields())["values"].mutable_list_value()->add_values()->set_string_value("3");
  ExpectStatus(service.Act(ctx, ActReq("add", bad_values), &r), invalid,
               "params.values[2]: must be a number");
  google::protobuf::Struct not_list;
  (*not_list.mutable_fields())["values"].set_number_value(1);
  ExpectStatus(service.Act(ctx, ActReq("add", not_list), &r), invalid,
               "params.values: must be a list of numbers");

  ExpectStatus(service.Act(ctx, ActReq("sleep", {}), &r), invalid, "params.ms: required number");
  ExpectStatus(service.Act(ctx, ActReq("sleep", NumberParams("ms", 60001)), &r), invalid,
               "params.ms: must be between 0 and 60000");
  ExpectStatus(service.Act(ctx, ActReq("sleep", NumberParams("ms", -1)), &r), invalid,
               "params.ms: must be between 0 and 60000");
  google::protobuf::Struct ms_text;
  (*ms_text.mutable_fields())["ms"].set_string_value("10");
  ExpectStatus(service.Act(ctx, ActReq("sleep", ms_text), &r), invalid,
               "params.ms: must be a number");

  ExpectStatus(service.Act(ctx, ActReq("fly", {}), &r), invalid,
               "action: unknown action 'fly' (known: add, count_words, echo, sleep, uppercase)");
  ExpectStatus(service.Act(ctx, ActReq("", {}), &r), invalid, "action: must not be empty");
}

TEST(ActionsTest, EventsRecordOutcomes) {
  AgentService service;
  Context ctx;
  v1::ActResponse r;
  ASSERT_TRUE(service.Act(ctx, ActReq("add", ValuesParams({2, 3})), &r).ok());
  EXPECT_FALSE(service.Act(ctx, ActReq("echo", {}), &r).ok());

  const auto events = service.events().ReadAfter(0);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].sequence(), 1u);
  EXPECT_EQ(events[0].kind(), v1::EVENT_KIND_ACTION_COMPLETED);
  EXPECT_EQ(events[0].subject(), "add");
  EXPECT_EQ(events[0].attributes().at("output"), "5");
  EXPECT_GT(events[0].time().seconds(), 0);
  EXPECT_EQ(events[1].sequence(), 2u);
  EXPECT_EQ(events[1].kind(), v1::EVENT_KIND_ACTION_FAILED);
  EXPECT_EQ(events[1].attributes().at("code"), "INVALID_ARGUMENT");
  EXPECT_EQ(events[1].attributes().at("error"), "params.text: required string");
}

TEST(ActionsTest, SleepStopsAtDeadline) {
  AgentService service;
  Context ctx;
  ctx.set_deadline(absl::Now() + absl::Milliseconds(50));
  v1::ActResponse r;
  const absl::Time start = absl::Now();
  absl::Status s = service.Act(ctx, ActReq("sleep", NumberParams("ms", 5000)), &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  const auto events = service.events().ReadAfter(0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), v1::EVENT_KIND_ACTION_FAILED);
  EXPECT_EQ(events[0].attributes().at("code"), "DEADLINE_EXCEEDED");
}

TEST(ActionsTest, SleepStopsOnCancel) {
  AgentService service;
  Context ctx;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(20));
    ctx.cancellation().Cancel();
  });
  v1::ActResponse r;
  const absl::Time start = absl::Now();
  absl::Status s = service.Act(ctx, ActReq("sleep", NumberParams("ms", 5000)), &r);
  canceller.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// ---------------------------------------------------------------- planner

TEST(PlannerTest, SplitsClausesCaseInsensitively) {
  EXPECT_THAT(SplitClauses("echo hello THEN count words in a b c; add 1 2 3 And Then "
                           "wait 10 ms, then shout hi and say bye"),
              ElementsAre("echo hello", "count words in a b c", "add 1 2 3", "wait 10 ms",
                          "shout hi", "say bye"));
  // " and " joins text unless an action verb follows it.
  EXPECT_THAT(SplitClauses("echo salt and pepper"), ElementsAre("echo salt and pepper"));
  EXPECT_THAT(SplitClauses("add 1 and 2"), ElementsAre("add 1 and 2"));
  EXPECT_THAT(SplitClauses(" ; echo a;; then echo b ; "), ElementsAre("echo a", "echo b"));
}

TEST(PlannerTest, PicksActionsByVerb) {
  auto plan = MakePlan(
      "Say 'hi there' then shout quiet; count the words of one two three; sum 1, 2 and 3.5; "
      "sleep 20ms; wait for 1.5 s; make coffee",
      0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(Actions(*plan),
              ElementsAre("echo", "uppercase", "count_words", "add", "sleep", "sleep", "echo"));
  const auto& steps = plan->steps();
  EXPECT_EQ(steps[0].index(), 1);
  EXPECT_EQ(steps[0].params().fields().at("text").string_value(), "hi there");
  EXPECT_EQ(steps[1].params().fields().at("text").string_value(), "quiet");
  EXPECT_EQ(steps[2].params().fields().at("text").string_value(), "one two three");
  const auto& values = steps[3].params().fields().at("values").list_value().values();
  ASSERT_EQ(values.size(), 3);
  EXPECT_EQ(values[2].number_value(), 3.5);
  EXPECT_EQ(steps[4].params().fields().at("ms").number_value(), 20);
  EXPECT_EQ(steps[5].params().fields().at("ms").number_value(), 1500);
  EXPECT_EQ(steps[6].index(), 7);
  EXPECT_EQ(steps[6].params().fields().at("text").string_value(), "make coffee");
  EXPECT_THAT(steps[6].rationale(), HasSubstr("No specific action matched"));
  for (const auto& step : steps) {
    EXPECT_FALSE(step.rationale().empty());
    EXPECT_TRUE(ValidateAction(step.action(), step.params()).ok()) << step.DebugString();
  }
}

TEST(PlannerTest, IsDeterministic) {
  auto a = MakePlan("echo hello then count words in a b c", 0);
  auto b = MakePlan("echo hello then count words in a b c", 0);
  auto c = MakePlan("echo hello then count words in a b c", 16);
  auto d = MakePlan("echo hello then count words in a b c", 5);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
  EXPECT_THAT(a->plan_id(), MatchesRegex("plan-[0-9a-f]{16}"));
  EXPECT_EQ(a->plan_id(), c->plan_id());  // 0 means the default, 16
  EXPECT_NE(a->plan_id(), d->plan_id());
  EXPECT_EQ(a->plan_id(), PlanId("echo hello then count words in a b c", 16));
  EXPECT_EQ(a->objective(), "echo hello then count words in a b c");
}

TEST(PlannerTest, TruncatesToMaxSteps) {
  auto plan = MakePlan("echo a; echo b; echo c", 2);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->steps_size(), 2);
  EXPECT_THAT(plan->steps(1).rationale(), HasSubstr("truncated"));
  EXPECT_THAT(plan->steps(0).rationale(), Not(HasSubstr("truncated")));
}

TEST(PlannerTest, RejectsBadInput) {
  const auto invalid = absl::StatusCode::kInvalidArgument;
  ExpectStatus(MakePlan("", 0).status(), invalid, "objective: must not be empty");
  ExpectStatus(MakePlan(" \t ", 0).status(), invalid, "objective: must not be empty");
  ExpectStatus(MakePlan("echo a", 65).status(), invalid, "max_steps: must be between 1 and 64");
  ExpectStatus(MakePlan("echo a", -1).status(), invalid, "max_steps: must be between 1 and 64");
  EXPECT_TRUE(MakePlan("echo a", 64).ok());
  auto long_objective = MakePlan(std::string(4097, 'x'), 0);
  EXPECT_EQ(long_objective.status().code(), invalid);
  EXPECT_THAT(std::string(long_objective.status().message()), StartsWith("objective: "));
  EXPECT_TRUE(MakePlan(std::string(4096, 'x'), 0).ok());
  EXPECT_EQ(MakePlan(";;", 0).status().code(), invalid);
}

// ---------------------------------------------------------------- service

TEST(AgentServiceTest, PlanStoresAndPublishes) {
  AgentService service;
  Context ctx;
  v1::PlanResponse first, second;
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo hi then add 1 2"), &first).ok());
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo hi then add 1 2"), &second).ok());
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_EQ(service.plan_count(), 1u);
  const auto events = service.events().ReadAfter(0);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind(), v1::EVENT_KIND_PLAN_CREATED);
  EXPECT_EQ(events[0].subject(), first.plan_id());
  EXPECT_EQ(events[0].attributes().at("steps"), "2");

  v1::PlanResponse bad;
  ExpectStatus(service.Plan(ctx, PlanReq(""), &bad), absl::StatusCode::kInvalidArgument,
               "objective: must not be empty");
}

TEST(AgentServiceTest, ActRunsPlanSteps) {
  AgentService service;
  Context ctx;
  v1::PlanResponse plan;
  ASSERT_TRUE(
      service.Plan(ctx, PlanReq("echo hi then count words in a b c and add 4 5"), &plan).ok());
  ASSERT_EQ(plan.steps_size(), 3);
  std::vector<double> numbers;
  for (const auto& step : plan.steps()) {
    v1::ActRequest req = ActReq(step.action(), step.params());
    req.set_plan_id(plan.plan_id());
    req.set_step_index(step.index());
    v1::ActResponse r;
    ASSERT_TRUE(service.Act(ctx, req, &r).ok()) << step.DebugString();
    const auto events = service.events().ReadAfter(r.event_sequence() - 1, 1);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].attributes().at("plan_id"), plan.plan_id());
    EXPECT_EQ(events[0].attributes().at("step_index"), std::to_string(step.index()));
    if (r.output().has_number_value()) numbers.push_back(r.output().number_value());
  }
  EXPECT_THAT(numbers, ElementsAre(3, 9));
}

TEST(AgentServiceTest, ActChecksPlanAndStep) {
  AgentService service;
  Context ctx;
  v1::ActResponse r;
  v1::ActRequest req = ActReq("echo", TextParams("x"));
  req.set_plan_id("plan-nope");
  ExpectStatus(service.Act(ctx, req, &r), absl::StatusCode::kNotFound,
               "plan_id: no plan 'plan-nope'");

  v1::PlanResponse plan;
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo x"), &plan).ok());
  req.set_plan_id(plan.plan_id());
  req.set_step_index(2);
  EXPECT_EQ(service.Act(ctx, req, &r).code(), absl::StatusCode::kInvalidArgument);
  req.set_step_index(-1);
  EXPECT_EQ(service.Act(ctx, req, &r).code(), absl::StatusCode::kInvalidArgument);
  req.set_step_index(1);
  EXPECT_TRUE(service.Act(ctx, req, &r).ok());

  v1::ActRequest orphan = ActReq("echo", TextParams("x"));
  orphan.set_step_index(1);
  ExpectStatus(service.Act(ctx, orphan, &r), absl::StatusCode::kInvalidArgument,
               "step_index: requires plan_id");
}

TEST(AgentServiceTest, ObserveRecordsAndValidates) {
  AgentService service;
  Context ctx;
  v1::ObserveRequest req;
  req.set_source("sensor-1");
  req.set_content("temperature 21C");
  (*req.mutable_labels())["room"] = "lab";
  v1::ObserveResponse r;
  ASSERT_TRUE(service.Observe(ctx, req, &r).ok());
  EXPECT_EQ(r.observation_id(), "obs-1");
  EXPECT_EQ(r.sequence(), 1u);
  EXPECT_GT(r.recorded_at().seconds(), 0);
  const auto events = service.events().ReadAfter(0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), v1::EVENT_KIND_OBSERVATION_RECORDED);
  EXPECT_EQ(events[0].subject(), "sensor-1");
  EXPECT_EQ(events[0].attributes().at("label.room"), "lab");
  EXPECT_EQ(events[0].time().seconds(), r.recorded_at().seconds());

  v1::ObserveRequest no_source = req;
  no_source.clear_source();
  ExpectStatus(service.Observe(ctx, no_source, &r), absl::StatusCode::kInvalidArgument,
               "source: must not be empty");
  v1::ObserveRequest no_content = req;
  no_content.set_content("  ");
  ExpectStatus(service.Observe(ctx, no_content, &r), absl::StatusCode::kInvalidArgument,
               "content: must not be empty");
}

TEST(AgentServiceTest, ExplainStoredAndUnknownPlans) {
  AgentService service;
  Context ctx;
  v1::ExplainRequest req;
  v1::ExplainResponse r;
  ExpectStatus(service.Explain(ctx, req, &r), absl::StatusCode::kInvalidArgument,
               "plan_id: must not be empty");
  req.set_plan_id("plan-0000000000000000");
  ExpectStatus(service.Explain(ctx, req, &r), absl::StatusCode::kNotFound,
               "plan_id: no plan 'plan-0000000000000000'");

  v1::PlanResponse plan;
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo hello then count words in a b"), &plan).ok());
  req.set_plan_id(plan.plan_id());
  ASSERT_TRUE(service.Explain(ctx, req, &r).ok());
  EXPECT_EQ(r.plan_id(), plan.plan_id());
  EXPECT_THAT(r.explanation(),
              StartsWith("Plan " + plan.plan_id() +
                         " breaks 'echo hello then count words in a b' into 2 steps: "
                         "echo, then count_words."));
  ASSERT_EQ(r.step_explanations_size(), 2);
  EXPECT_THAT(r.step_explanations(0), StartsWith("Step 1 runs echo with {\"text\":\"hello\"}"));
  EXPECT_THAT(r.step_explanations(1), StartsWith("Step 2 runs count_words"));
}

TEST(AgentServiceTest, PlanStoreDropsLeastRecentlyUsed) {
  AgentService service(AgentServiceOptions{.plan_capacity = 2});
  Context ctx;
  v1::PlanResponse a, b, c;
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo a"), &a).ok());
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo b"), &b).ok());
  v1::ExplainRequest touch_a;
  touch_a.set_plan_id(a.plan_id());
  v1::ExplainResponse r;
  ASSERT_TRUE(service.Explain(ctx, touch_a, &r).ok());  // a is now most recent
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo c"), &c).ok());
  EXPECT_EQ(service.plan_count(), 2u);
  EXPECT_TRUE(service.Explain(ctx, touch_a, &r).ok());
  v1::ExplainRequest explain_b;
  explain_b.set_plan_id(b.plan_id());
  EXPECT_EQ(service.Explain(ctx, explain_b, &r).code(), absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------- watch

void Observe(AgentService& service, const std::string& content) {
  Context ctx;
  v1::ObserveRequest req;
  req.set_source("test");
  req.set_content(content);
  v1::ObserveResponse r;
  ASSERT_TRUE(service.Observe(ctx, req, &r).ok());
}

std::vector<uint64_t> Sequences(const std::vector<v1::AgentEvent>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.sequence());
  return out;
}

TEST(WatchTest, ReplaysFromSequenceUpToMaxEvents) {
  AgentService service;
  for (int i = 0; i < 5; ++i) Observe(service, "o" + std::to_string(i));
  Context ctx;
  v1::WatchRequest req;
  req.set_from_sequence(2);
  req.set_max_events(3);
  FakeStream io;
  StreamWriter<v1::AgentEvent> writer(io);
  ASSERT_TRUE(service.Watch(ctx, req, writer).ok());
  EXPECT_THAT(Sequences(io.Written<v1::AgentEvent>()), ElementsAre(2, 3, 4));
}

TEST(WatchTest, FiltersKinds) {
  AgentService service;
  Context ctx;
  v1::ActResponse act;
  v1::PlanResponse plan;
  ASSERT_TRUE(service.Act(ctx, ActReq("echo", TextParams("x")), &act).ok());      // 1
  Observe(service, "o1");                                                             // 2
  ASSERT_TRUE(service.Plan(ctx, PlanReq("echo y"), &plan).ok());                    // 3
  Observe(service, "o2");                                                             // 4
  v1::WatchRequest req;
  req.set_from_sequence(1);
  req.add_kinds(v1::EVENT_KIND_OBSERVATION_RECORDED);
  req.set_max_events(3);
  FakeStream io;
  StreamWriter<v1::AgentEvent> writer(io);
  absl::Status status = absl::UnknownError("not run");
  std::thread watcher([&] { status = service.Watch(ctx, req, writer); });
  // Two retained observations match; the third match has to arrive live.
  ASSERT_TRUE(io.WaitForWrites(2, absl::Seconds(5)));
  ASSERT_TRUE(service.Act(ctx, ActReq("echo", TextParams("skip me")), &act).ok());  // 5
  Observe(service, "o3");                                                             // 6
  watcher.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(Sequences(io.Written<v1::AgentEvent>()), ElementsAre(2, 4, 6));

  // Replay-only: both kinds, three matches among the retained events.
  v1::WatchRequest replay;
  replay.set_from_sequence(1);
  replay.add_kinds(v1::EVENT_KIND_PLAN_CREATED);
  replay.add_kinds(v1::EVENT_KIND_ACTION_COMPLETED);
  replay.set_max_events(3);
  FakeStream io2;
  StreamWriter<v1::AgentEvent> writer2(io2);
  ASSERT_TRUE(service.Watch(ctx, replay, writer2).ok());
  EXPECT_THAT(Sequences(io2.Written<v1::AgentEvent>()), ElementsAre(1, 3, 5));
}

TEST(WatchTest, FromZeroStreamsOnlyNewEvents) {
  AgentService service;
  Observe(service, "old");
  Context ctx;
  v1::WatchRequest req;
  req.set_max_events(2);
  FakeStream io;
  StreamWriter<v1::AgentEvent> writer(io);
  absl::Status status = absl::UnknownError("not run");
  std::thread watcher([&] { status = service.Watch(ctx, req, writer); });
  // The watcher starts at whatever is newest when it subscribes, so keep
  // appending until it has seen one event, then append one more.
  int appended = 0;
  do {
    Observe(service, "new");
    ASSERT_LT(++appended, 500);
  } while (!io.WaitForWrites(1, absl::Milliseconds(10)));
  Observe(service, "last");
  watcher.join();
  EXPECT_TRUE(status.ok()) << status;
  const auto seqs = Sequences(io.Written<v1::AgentEvent>());
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_GE(seqs[0], 2u);  // never the event from before the watch
  EXPECT_EQ(seqs[1], seqs[0] + 1);
  EXPECT_EQ(seqs[1], service.events().last_sequence());
}

TEST(WatchTest, ReturnsPromptlyWhenCancelled) {
  AgentService service;
  Context ctx;
  v1::WatchRequest req;
  req.set_from_sequence(1);
  FakeStream io;
  StreamWriter<v1::AgentEvent> writer(io);
  absl::Status status = absl::UnknownError("not run");
  std::thread watcher([&] { status = service.Watch(ctx, req, writer); });
  Observe(service, "live");
  // Once the event is delivered the watcher is blocked waiting for more.
  ASSERT_TRUE(io.WaitForWrites(1, absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  ctx.cancellation().Cancel();
  watcher.join();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(Sequences(io.Written<v1::AgentEvent>()), ElementsAre(1));
}

TEST(WatchTest, StopsWhenTheStreamIsGone) {
  AgentService service;
  for (int i = 0; i < 3; ++i) Observe(service, "o");
  Context ctx;
  v1::WatchRequest req;
  req.set_from_sequence(1);
  FakeStream io(/*write_limit=*/1);
  StreamWriter<v1::AgentEvent> writer(io);
  EXPECT_TRUE(service.Watch(ctx, req, writer).ok());
  EXPECT_EQ(io.Written<v1::AgentEvent>().size(), 1u);
}

TEST(WatchTest, EndsAtDeadline) {
  AgentService service;
  Context ctx;
  ctx.set_deadline(absl::Now() + absl::Milliseconds(30));
  v1::WatchRequest req;
  FakeStream io;
  StreamWriter<v1::AgentEvent> writer(io);
  EXPECT_EQ(service.Watch(ctx, req, writer).code(), absl::StatusCode::kDeadlineExceeded);
}

// ---------------------------------------------------------------- session

TEST(SessionTest, AnswersEachRequestInOrder) {
  AgentService service;
  Context ctx;
  FakeStream io;
  const std::string objective = "say hi then add 1 2";
  const std::string plan_id = PlanId(objective, kDefaultMaxSteps);

  v1::SessionRequest req;
  req.set_request_id("r1");
  *req.mutable_plan() = PlanReq(objective);
  io.AddRequest(req);
  req.Clear();
  req.set_request_id("r2");
  req.mutable_explain()->set_plan_id(plan_id);
  io.AddRequest(req);
  req.Clear();
  req.set_request_id("r3");
  *req.mutable_act() = ActReq("add", ValuesParams({1, 2}));
  io.AddRequest(req);
  req.Clear();
  req.set_request_id("r4");
  req.mutable_observe()->set_source("user");
  req.mutable_observe()->set_content("looks good");
  io.AddRequest(req);
  req.Clear();
  req.set_request_id("r5");  // no call
  io.AddRequest(req);
  req.Clear();
  req.set_request_id("r6");
  *req.mutable_act() = ActReq("nope", {});
  io.AddRequest(req);
  req.Clear();
  req.set_request_id("r7");
  req.mutable_explain()->set_plan_id("plan-missing");
  io.AddRequest(req);

  BidiStream<v1::SessionRequest, v1::SessionResponse> stream(io);
  ASSERT_TRUE(service.Session(ctx, stream).ok());

  const auto out = io.Written<v1::SessionResponse>();
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[0].request_id(), "r1");
  ASSERT_TRUE(out[0].has_plan());
  EXPECT_EQ(out[0].plan().plan_id(), plan_id);
  EXPECT_EQ(out[1].request_id(), "r2");
  ASSERT_TRUE(out[1].has_explain());
  EXPECT_EQ(out[1].explain().step_explanations_size(), 2);
  EXPECT_EQ(out[2].request_id(), "r3");
  ASSERT_TRUE(out[2].has_act());
  EXPECT_EQ(out[2].act().output().number_value(), 3);
  EXPECT_EQ(out[3].request_id(), "r4");
  ASSERT_TRUE(out[3].has_observe());
  EXPECT_EQ(out[3].observe().observation_id(), "obs-3");
  EXPECT_EQ(out[4].request_id(), "r5");
  ASSERT_TRUE(out[4].has_error());
  EXPECT_EQ(out[4].error().code(), "INVALID_ARGUMENT");
  EXPECT_EQ(out[5].request_id(), "r6");
  ASSERT_TRUE(out[5].has_error());
  EXPECT_EQ(out[5].error().code(), "INVALID_ARGUMENT");
  EXPECT_THAT(out[5].error().message(), StartsWith("action: unknown action 'nope'"));
  EXPECT_EQ(out[6].request_id(), "r7");
  ASSERT_TRUE(out[6].has_error());
  EXPECT_EQ(out[6].error().code(), "NOT_FOUND");
  EXPECT_EQ(out[6].error().message(), "plan_id: no plan 'plan-missing'");
}

TEST(SessionTest, EmptySessionEndsOk) {
  AgentService service;
  Context ctx;
  FakeStream io;
  BidiStream<v1::SessionRequest, v1::SessionResponse> stream(io);
  EXPECT_TRUE(service.Session(ctx, stream).ok());
  EXPECT_TRUE(io.Written<v1::SessionResponse>().empty());
}

// ---------------------------------------------------------------- event log

TEST(EventLogTest, DropsOldestAndPublishes) {
  EventLog log(EventLogOptions{.max_events = 3});
  std::vector<uint64_t> published;  // written by the publishing thread
  log.set_publisher([&](absl::Span<const EventLog::EventPtr> events) {
    for (const auto& e : events) published.push_back(e->sequence());
  });
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(log.Append(v1::EVENT_KIND_OBSERVATION_RECORDED, "s", "x")->sequence(),
              static_cast<uint64_t>(i + 1));
  }
  log.WaitPublished();
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.first_sequence(), 3u);
  EXPECT_EQ(log.last_sequence(), 5u);
  EXPECT_THAT(published, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(Sequences(log.ReadAfter(0)), ElementsAre(3, 4, 5));
  EXPECT_THAT(Sequences(log.ReadAfter(3)), ElementsAre(4, 5));
  EXPECT_THAT(Sequences(log.ReadAfter(3, 1)), ElementsAre(4));
  EXPECT_TRUE(log.ReadAfter(5).empty());

  // Following from a dropped sequence starts at the oldest retained event.
  std::vector<uint64_t> followed;
  CancellationToken token;
  EXPECT_TRUE(log.Follow(0, absl::InfiniteFuture(), token, [&](const v1::AgentEvent& e) {
                   followed.push_back(e.sequence());
                   return followed.size() < 3;
                 }).ok());
  EXPECT_THAT(followed, ElementsAre(3, 4, 5));
}

// A publisher that stalls holds handlers back once it is max_events behind,
// instead of the log growing or skipping events; clearing the publisher
// publishes what is pending first.
TEST(EventLogTest, PublisherLagIsBoundedAndNothingIsSkipped) {
  EventLog log(EventLogOptions{.max_events = 3});
  absl::Mutex mu;
  bool release = false;
  std::vector<uint64_t> published;
  log.set_publisher([&](absl::Span<const EventLog::EventPtr> events) {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&release));
    for (const auto& e : events) published.push_back(e->sequence());
  });
  for (int i = 0; i < 3; ++i) log.Append(v1::EVENT_KIND_OBSERVATION_RECORDED, "s", "x");
  absl::Notification fourth_appended;
  std::thread appender([&] {
    log.Append(v1::EVENT_KIND_OBSERVATION_RECORDED, "s", "x");
    fourth_appended.Notify();
  });
  // Three events are pending or in flight: the fourth waits for the publisher.
  EXPECT_FALSE(fourth_appended.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  EXPECT_EQ(log.last_sequence(), 3u);
  {
    absl::MutexLock lock(&mu);
    release = true;
  }
  fourth_appended.WaitForNotification();
  appender.join();
  log.Append(v1::EVENT_KIND_OBSERVATION_RECORDED, "s", "x");
  log.set_publisher(nullptr);  // drains
  absl::MutexLock lock(&mu);
  EXPECT_THAT(published, ElementsAre(1, 2, 3, 4, 5));
}

// Replacing the publisher while handlers append: every event reaches the old
// or the new publisher, each exactly once and in order; destroying the log
// publishes what is still pending.
TEST(EventLogTest, ReplacingThePublisherLosesNothing) {
  std::vector<uint64_t> first, second, third;  // each written by one thread at a time
  {
    EventLog log(EventLogOptions{.max_events = 64});
    auto record = [](std::vector<uint64_t>* into) {
      return [into](absl::Span<const EventLog::EventPtr> events) {
        for (const auto& e : events) into->push_back(e->sequence());
      };
    };
    log.set_publisher(record(&first));
    std::thread appender([&] {
      for (int i = 0; i < 3000; ++i) log.Append(v1::EVENT_KIND_OBSERVATION_RECORDED, "s", "x");
    });
    absl::SleepFor(absl::Milliseconds(2));
    log.set_publisher(record(&second));
    absl::SleepFor(absl::Milliseconds(2));
    log.set_publisher(record(&third));
    appender.join();
  }  // the destructor publishes the rest
  std::vector<uint64_t> all = first;
  all.insert(all.end(), second.begin(), second.end());
  all.insert(all.end(), third.begin(), third.end());
  ASSERT_EQ(all.size(), 3000u);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i + 1);
}

TEST(EventLogTest, FollowEndsOnCancelAndDeadline) {
  EventLog log;
  CancellationToken cancelled;
  cancelled.Cancel();
  EXPECT_EQ(log.Follow(0, absl::InfiniteFuture(), cancelled, [](const v1::AgentEvent&) {
                 return true;
               }).code(),
            absl::StatusCode::kCancelled);
  CancellationToken token;
  EXPECT_EQ(log.Follow(0, absl::Now() + absl::Milliseconds(10), token,
                       [](const v1::AgentEvent&) { return true; })
                .code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(AbbreviateTest, CutsOnUtf8Boundary) {
  EXPECT_EQ(Abbreviate("short"), "short");
  EXPECT_EQ(Abbreviate("a\nb"), "a b");
  // "é" is two bytes; a cut in its middle backs up before it.
  EXPECT_EQ(Abbreviate("abc\xC3\xA9" "defg", 7), "abc...");
  EXPECT_EQ(Abbreviate(std::string(100, 'x'), 10), "xxxxxxx...");
}

}  // namespace
}  // namespace kei::agent
