// Implementation of the reference agent service.
#include "tools/keid/agent/agent_service.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "cc/status/code_names.h"
#include "tools/keid/agent/actions.h"
#include "tools/keid/agent/planner.h"

namespace kei::agent {
namespace {

// Bounds on Observe, so one request cannot pin much memory in the event log.
constexpr size_t kMaxSourceBytes = 256;
constexpr size_t kMaxContentBytes = 64 * 1024;
constexpr int kMaxLabels = 64;

bool IsBlank(absl::string_view s) { return absl::StripAsciiWhitespace(s).empty(); }

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  if (!JsonCodec().Marshal(message, &json).ok()) return "null";
  return json;
}

}  // namespace

AgentService::AgentService(AgentServiceOptions options)
    : options_([&] {
        options.plan_capacity = std::max<size_t>(options.plan_capacity, 1);
        return options;
      }()),
      events_(EventLogOptions{.max_events = options_.event_capacity,
                              .max_bytes = options_.event_bytes_capacity}) {}

size_t AgentService::plan_count() const {
  absl::MutexLock lock(&plans_mu_);
  return plans_.size();
}

void AgentService::StorePlan(const v1::PlanResponse& plan) {
  absl::MutexLock lock(&plans_mu_);
  if (auto it = plan_index_.find(plan.plan_id()); it != plan_index_.end()) {
    plans_.erase(it->second);
    plan_index_.erase(it);
  }
  plans_.push_front(plan);
  plan_index_[plan.plan_id()] = plans_.begin();
  while (plans_.size() > options_.plan_capacity) {
    plan_index_.erase(plans_.back().plan_id());
    plans_.pop_back();
  }
}

absl::StatusOr<v1::PlanResponse> AgentService::FindPlan(const std::string& plan_id) {
  absl::MutexLock lock(&plans_mu_);
  auto it = plan_index_.find(plan_id);
  if (it == plan_index_.end()) {
    return absl::NotFoundError(absl::StrCat("plan_id: no plan '", Abbreviate(plan_id), "'"));
  }
  plans_.splice(plans_.begin(), plans_, it->second);
  return *it->second;
}

absl::Status AgentService::Plan(Context& context, const v1::PlanRequest& request,
                                v1::PlanResponse* response) {
  (void)context;
  absl::StatusOr<v1::PlanResponse> plan = MakePlan(request.objective(), request.max_steps());
  if (!plan.ok()) return plan.status();
  StorePlan(*plan);
  events_.Append(v1::EVENT_KIND_PLAN_CREATED, plan->plan_id(),
                 absl::StrCat("planned ", plan->steps_size(),
                              plan->steps_size() == 1 ? " step" : " steps", " for '",
                              Abbreviate(plan->objective()), "'"),
                 {{"plan_id", plan->plan_id()},
                  {"objective", plan->objective()},
                  {"steps", absl::StrCat(plan->steps_size())}});
  *response = *std::move(plan);
  return absl::OkStatus();
}

absl::Status AgentService::Act(Context& context, const v1::ActRequest& request,
                               v1::ActResponse* response) {
  std::map<std::string, std::string> attributes;
  if (!request.plan_id().empty()) {
    absl::StatusOr<v1::PlanResponse> plan = FindPlan(request.plan_id());
    if (!plan.ok()) return plan.status();
    if (request.step_index() < 0 || request.step_index() > plan->steps_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("step_index: must be between 1 and ", plan->steps_size(), " for plan '",
                       plan->plan_id(), "' (0 for none), got ", request.step_index()));
    }
    attributes["plan_id"] = request.plan_id();
    if (request.step_index() != 0) {
      attributes["step_index"] = absl::StrCat(request.step_index());
    }
  } else if (request.step_index() != 0) {
    return absl::InvalidArgumentError("step_index: requires plan_id");
  }

  absl::StatusOr<ActionResult> result = RunAction(context, request.action(), request.params());
  if (!result.ok()) {
    attributes["code"] = std::string(CodeName(result.status().code()));
    attributes["error"] = std::string(result.status().message());
    events_.Append(v1::EVENT_KIND_ACTION_FAILED, Abbreviate(request.action()),
                   absl::StrCat("action '", Abbreviate(request.action()), "' failed: ",
                                Abbreviate(result.status().message(), 120)),
                   std::move(attributes));
    return result.status();
  }
  attributes["output"] = ToJson(result->output);
  const auto event =
      events_.Append(v1::EVENT_KIND_ACTION_COMPLETED, request.action(), result->summary,
                     std::move(attributes));
  response->set_action(request.action());
  *response->mutable_output() = std::move(result->output);
  response->set_summary(std::move(result->summary));
  response->set_event_sequence(event->sequence());
  return absl::OkStatus();
}

absl::Status AgentService::Observe(Context& context, const v1::ObserveRequest& request,
                                   v1::ObserveResponse* response) {
  (void)context;
  if (IsBlank(request.source())) {
    return absl::InvalidArgumentError("source: must not be empty");
  }
  if (request.source().size() > kMaxSourceBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("source: must be at most ", kMaxSourceBytes, " bytes"));
  }
  if (IsBlank(request.content())) {
    return absl::InvalidArgumentError("content: must not be empty");
  }
  if (request.content().size() > kMaxContentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("content: must be at most ", kMaxContentBytes, " bytes"));
  }
  if (request.labels_size() > kMaxLabels) {
    return absl::InvalidArgumentError(absl::StrCat("labels: at most ", kMaxLabels, " labels"));
  }
  for (const auto& [key, value] : request.labels()) {
    if (key.size() > kMaxSourceBytes || value.size() > kMaxSourceBytes) {
      return absl::InvalidArgumentError(absl::StrCat("labels[", Abbreviate(key),
                                                     "]: key and value must be at most ",
                                                     kMaxSourceBytes, " bytes"));
    }
  }
  v1::AgentEvent observed;
  observed.set_kind(v1::EVENT_KIND_OBSERVATION_RECORDED);
  observed.set_subject(request.source());
  observed.set_summary(absl::StrCat(Abbreviate(request.source(), 40), " observed: ",
                                    Abbreviate(request.content())));
  auto& attributes = *observed.mutable_attributes();
  attributes["source"] = request.source();
  attributes["content"] = request.content();
  for (const auto& [key, value] : request.labels()) {
    attributes[absl::StrCat("label.", key)] = value;
  }
  const auto event = events_.Append(std::move(observed));
  response->set_observation_id(absl::StrCat("obs-", event->sequence()));
  response->set_sequence(event->sequence());
  *response->mutable_recorded_at() = event->time();
  return absl::OkStatus();
}

absl::Status AgentService::Explain(Context& context, const v1::ExplainRequest& request,
                                   v1::ExplainResponse* response) {
  (void)context;
  if (request.plan_id().empty()) {
    return absl::InvalidArgumentError("plan_id: must not be empty");
  }
  absl::StatusOr<v1::PlanResponse> plan = FindPlan(request.plan_id());
  if (!plan.ok()) return plan.status();
  *response = ExplainPlan(*plan);
  return absl::OkStatus();
}

absl::Status AgentService::Watch(Context& context, const v1::WatchRequest& request,
                                 StreamWriter<v1::AgentEvent>& stream) {
  const uint64_t after = request.from_sequence() == 0 ? events_.last_sequence()
                                                      : request.from_sequence() - 1;
  const uint32_t max_events = request.max_events();
  uint32_t sent = 0;
  bool stream_gone = false;
  absl::Status status = events_.Follow(
      after, context.deadline(), context.cancellation(), [&](const v1::AgentEvent& event) {
        if (request.kinds_size() > 0 &&
            std::find(request.kinds().begin(), request.kinds().end(), event.kind()) ==
                request.kinds().end()) {
          return true;
        }
        if (!stream.Send(event)) {
          stream_gone = true;
          return false;
        }
        return max_events == 0 || ++sent < max_events;
      });
  // Ending because the caller went away, stopped reading or got all it asked
  // for is a normal end of the stream; only a passed deadline is reported.
  if (status.ok() || absl::IsCancelled(status) || stream_gone) return absl::OkStatus();
  return status;
}

absl::Status AgentService::Session(
    Context& context, BidiStream<v1::SessionRequest, v1::SessionResponse>& stream) {
  v1::SessionRequest request;
  while (!context.cancelled() && stream.Receive(&request)) {
    v1::SessionResponse response;
    response.set_request_id(request.request_id());
    absl::Status status;
    switch (request.call_case()) {
      case v1::SessionRequest::kPlan:
        status = Plan(context, request.plan(), response.mutable_plan());
        break;
      case v1::SessionRequest::kAct:
        status = Act(context, request.act(), response.mutable_act());
        break;
      case v1::SessionRequest::kObserve:
        status = Observe(context, request.observe(), response.mutable_observe());
        break;
      case v1::SessionRequest::kExplain:
        status = Explain(context, request.explain(), response.mutable_explain());
        break;
      case v1::SessionRequest::CALL_NOT_SET:
        status = absl::InvalidArgumentError(
            "call: must set one of plan, act, observe or explain");
        break;
    }
    if (!status.ok()) {
      v1::SessionError* error = response.mutable_error();  // replaces any partial result
      error->set_code(std::string(CodeName(status.code())));
      error->set_message(std::string(status.message()));
    }
    if (!stream.Send(response)) break;
    request.Clear();
  }
  return absl::OkStatus();
}

}  // namespace kei::agent
