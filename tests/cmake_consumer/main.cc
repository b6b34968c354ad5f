// The smallest program built against an installed KEI Kit: connects to a
// running keid over gRPC, asks it for a plan, and sends itself a message over
// the bus. Proves that the installed headers (kit and generated), libraries and
// find_package(kei) fit together.
//
// Usage: kei_consumer <port>   (keid listening on 127.0.0.1:<port>)
#include <iostream>
#include <string>

#include "clients/bus/kei_bus_client.h"
#include "clients/kei_rpc_client.h"
#include "kei/agent/v1/agent.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: kei_consumer <port>\n";
    return 2;
  }
  auto client = kei::KEIRPCClient::Connect(std::string("grpc://127.0.0.1:") + argv[1]);
  if (!client.ok()) {
    std::cerr << "kei_consumer: connect: " << client.status() << "\n";
    return 1;
  }
  kei::agent::v1::PlanRequest request;
  request.set_objective("echo consumer");
  auto plan = (*client)->Plan(request);
  if (!plan.ok()) {
    std::cerr << "kei_consumer: Plan: " << plan.status() << "\n";
    return 1;
  }
  auto bus = kei::KEIBusClient::Connect(std::string("grpc://127.0.0.1:") + argv[1]);
  if (!bus.ok()) {
    std::cerr << "kei_consumer: bus: " << bus.status() << "\n";
    return 1;
  }
  auto inbox = (*bus)->Subscribe(kei::AgentInboxTopic("consumer"), kei::SubscribeOptions{});
  if (!inbox.ok()) {
    std::cerr << "kei_consumer: Subscribe: " << inbox.status() << "\n";
    return 1;
  }
  auto sent = (*bus)->SendAgentMessage("consumer", "dev.kei.plan", *plan);
  auto received = (*inbox)->Next(absl::Seconds(10));
  if (!sent.ok() || !received.ok() || !received->has_value()) {
    std::cerr << "kei_consumer: the bus message did not come back\n";
    return 1;
  }
  std::cout << plan->plan_id() << std::endl;
  return 0;
}
