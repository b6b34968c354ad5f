#include "tools/keid/agent/agent_mcp.h"

#include "absl/strings/str_cat.h"
#include "cc/codec/json_codec.h"
#include "tools/keid/agent/actions.h"

namespace kei::agent {
namespace {

using mcp::Json;
using mcp::ResourceContents;
using Contents = absl::StatusOr<std::vector<ResourceContents>>;
using Variables = std::map<std::string, std::string>;

// Events the events resource shows.
constexpr size_t kRecentEvents = 100;

ResourceContents Text(std::string uri, std::string mime, std::string text) {
  ResourceContents c;
  c.uri = std::move(uri);
  c.mime_type = std::move(mime);
  c.text = std::move(text);
  return c;
}

}  // namespace

absl::Status AddAgentMcp(mcp::McpServer& server, std::shared_ptr<AgentService> agent) {
  mcp::Resource actions;
  actions.uri = "kei://agent/actions";
  actions.name = "actions";
  actions.title = "Agent actions";
  actions.description = "The built-in actions the act tool runs, and their parameters.";
  actions.mime_type = "text/markdown";
  actions.read = [](const std::string& uri, const Variables&, mcp::RequestContext&) -> Contents {
    std::string text = "# KEI agent actions\n\n";
    for (const std::string& name : ActionNames()) absl::StrAppend(&text, "- `", name, "`\n");
    absl::StrAppend(&text,
                    "\nParameters: echo, uppercase and count_words take `text` (string); add "
                    "takes `values` (list of numbers); sleep takes `ms` (number, at most 60000).\n");
    return std::vector<ResourceContents>{Text(uri, "text/markdown", std::move(text))};
  };
  if (absl::Status s = server.AddResource(std::move(actions)); !s.ok()) return s;

  mcp::Resource events;
  events.uri = kEventsResourceUri;
  events.name = "events";
  events.title = "Recent agent events";
  events.description = "The newest agent events (plans, actions, errors), oldest first; "
                       "subscribe to be told when a new one is recorded.";
  events.mime_type = "application/json";
  events.read = [agent](const std::string& uri, const Variables&, mcp::RequestContext&) -> Contents {
    uint64_t last = agent->events().last_sequence();
    auto recent = agent->events().ReadAfter(last > kRecentEvents ? last - kRecentEvents : 0);
    std::string text = "[";
    JsonCodec codec;
    for (size_t i = 0; i < recent.size(); ++i) {
      std::string json;
      if (!codec.Marshal(recent[i], &json).ok()) continue;
      absl::StrAppend(&text, i ? "," : "", json);
    }
    text += "]";
    return std::vector<ResourceContents>{Text(uri, "application/json", std::move(text))};
  };
  if (absl::Status s = server.AddResource(std::move(events)); !s.ok()) return s;

  mcp::ResourceTemplate plans;
  plans.uri_template = "kei://agent/plans/{plan_id}";
  plans.name = "plan";
  plans.title = "A stored plan";
  plans.description = "A plan the plan tool made, by its id.";
  plans.mime_type = "application/json";
  plans.read = [agent](const std::string& uri, const Variables& vars,
                       mcp::RequestContext&) -> Contents {
    auto plan = agent->FindPlan(vars.at("plan_id"));
    if (!plan.ok()) return absl::NotFoundError(absl::StrCat("Resource not found: ", uri));
    std::string json;
    if (absl::Status s = JsonCodec().Marshal(*plan, &json); !s.ok()) return s;
    return std::vector<ResourceContents>{Text(uri, "application/json", std::move(json))};
  };
  if (absl::Status s = server.AddResourceTemplate(std::move(plans)); !s.ok()) return s;

  mcp::Prompt run_goal;
  run_goal.name = "plan_and_run";
  run_goal.title = "Plan and run a goal";
  run_goal.description = "Asks the model to plan a goal with the agent and carry the plan out.";
  run_goal.arguments = {{"goal", "Goal", "What to achieve, in one sentence", true}};
  run_goal.get = [](const std::map<std::string, std::string>& args,
                    mcp::RequestContext&) -> absl::StatusOr<mcp::PromptResult> {
    mcp::PromptResult result;
    result.description = "Plan and run: " + args.at("goal");
    result.messages.push_back(Json{
        {"role", "user"},
        {"content",
         {{"type", "text"},
          {"text", absl::StrCat("Reach this goal with the KEI agent: ", args.at("goal"),
                                "\n\nCall the `plan` tool with the goal as its objective, run each step of the "
                                "plan with `act`, then call `explain` with the plan id and "
                                "summarize what happened.")}}}});
    return result;
  };
  return server.AddPrompt(std::move(run_goal));
}

}  // namespace kei::agent
