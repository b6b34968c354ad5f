// AgentService: keid's deterministic reference implementation of
// kei.agent.v1.AgentService, served over every protocol the kit speaks. Plans
// are kept in a bounded in-memory store; everything that happens is appended
// to an EventLog that Watch streams and the bus can publish.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kei/agent/v1/agent.kei.h"
#include "kei/agent/v1/agent.pb.h"
#include "tools/keid/agent/event_log.h"

namespace kei::agent {

struct AgentServiceOptions {
  // Events retained for Watch replay; the oldest are dropped beyond this.
  size_t event_capacity = 10000;
  // Approximate bytes of events retained.
  size_t event_bytes_capacity = 64 << 20;
  // Plans kept for Act and Explain; the least recently used are dropped.
  size_t plan_capacity = 10000;
};

class AgentService final : public v1::AgentServiceHandler {
 public:
  explicit AgentService(AgentServiceOptions options = {});

  absl::Status Plan(Context& context, const v1::PlanRequest& request,
                    v1::PlanResponse* response) override;
  absl::Status Act(Context& context, const v1::ActRequest& request,
                   v1::ActResponse* response) override;
  absl::Status Observe(Context& context, const v1::ObserveRequest& request,
                       v1::ObserveResponse* response) override;
  absl::Status Explain(Context& context, const v1::ExplainRequest& request,
                       v1::ExplainResponse* response) override;
  absl::Status Watch(Context& context, const v1::WatchRequest& request,
                     StreamWriter<v1::AgentEvent>& stream) override;
  absl::Status Session(Context& context,
                       BidiStream<v1::SessionRequest, v1::SessionResponse>& stream) override;

  // The event log, for tests and for wiring a bus publisher
  // (mutable_events().set_publisher(...)).
  const EventLog& events() const { return events_; }
  EventLog& mutable_events() { return events_; }
  // Number of plans currently stored.
  size_t plan_count() const;
  // A copy of the plan, marking it recently used; NOT_FOUND if absent.
  absl::StatusOr<v1::PlanResponse> FindPlan(const std::string& plan_id);

 private:
  // Stores (or refreshes) a plan, evicting the least recently used beyond
  // capacity.
  void StorePlan(const v1::PlanResponse& plan);

  const AgentServiceOptions options_;
  EventLog events_;

  mutable absl::Mutex plans_mu_;
  // Most recently used at the front.
  std::list<v1::PlanResponse> plans_ ABSL_GUARDED_BY(plans_mu_);
  absl::flat_hash_map<std::string, std::list<v1::PlanResponse>::iterator> plan_index_
      ABSL_GUARDED_BY(plans_mu_);
};

}  // namespace kei::agent
