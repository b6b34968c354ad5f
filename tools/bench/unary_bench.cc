// Unary throughput and latency through the kit's clients versus the raw
// grpc_cpp_plugin stub, against the same server, in the same run, at the same
// concurrency. Modes run interleaved round by round so machine noise hits all
// of them alike; the headline is the ratio of medians.
//
// Method: AgentService/Observe (the cheapest handler).
//   unary_bench --target grpc://127.0.0.1:50051 [--threads 16] [--seconds 2] [--rounds 5]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/kei_rpc_client.h"
#include "clients/unified_client.h"
#include "grpcpp/create_channel.h"
#include "kei/agent/v1/agent.grpc.pb.h"

namespace {

using kei::agent::v1::ObserveRequest;
using kei::agent::v1::ObserveResponse;

struct RoundResult {
  double calls_per_second = 0;
  std::vector<double> latencies_us;
  int errors = 0;
};

// Runs `call` from `threads` threads for `duration`.
RoundResult RunRound(int threads, absl::Duration duration,
                     const std::function<bool(int thread)>& call) {
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      latencies[t].reserve(200000);
      while (!stop.load(std::memory_order_relaxed)) {
        absl::Time before = absl::Now();
        if (!call(t)) ++errors;
        latencies[t].push_back(absl::ToDoubleMicroseconds(absl::Now() - before));
      }
    });
  }
  absl::SleepFor(duration);
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  RoundResult result;
  for (auto& l : latencies) result.latencies_us.insert(result.latencies_us.end(), l.begin(), l.end());
  result.calls_per_second = result.latencies_us.size() / elapsed;
  result.errors = errors;
  return result;
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + index, values.end());
  return values[index];
}

double Median(std::vector<double> values) { return Percentile(values, 0.5); }

}  // namespace

int main(int argc, char** argv) {
  std::string target = "grpc://127.0.0.1:50051";
  int threads = 16, rounds = 5;
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--target") target = value;
    else if (flag == "--threads") (void)absl::SimpleAtoi(value, &threads);
    else if (flag == "--seconds") (void)absl::SimpleAtod(value, &seconds);
    else if (flag == "--rounds") (void)absl::SimpleAtoi(value, &rounds);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto endpoint = kei::ParseEndpoint(target);
  if (!endpoint.ok()) {
    std::fprintf(stderr, "%s\n", std::string(endpoint.status().message()).c_str());
    return 2;
  }

  // Observe: the cheapest agent method, so client-side costs are not hidden
  // behind handler work.
  ObserveRequest request;
  request.set_source("bench");
  request.set_content("a payload of about thirty bytes");

  // The raw generated stub on its own channel.
  auto stub = kei::agent::v1::AgentService::NewStub(
      grpc::CreateChannel(endpoint->authority(), grpc::InsecureChannelCredentials()));
  // KEIRPCClient over the gRPC transport.
  auto rpc = kei::KEIRPCClient::Connect(target);
  // KEIRPCClient over a UnifiedClient with the same single endpoint.
  kei::UnifiedClientOptions unified_options;
  unified_options.endpoints = {target};
  auto unified = kei::UnifiedClient::Create(unified_options);
  if (!rpc.ok() || !unified.ok()) {
    std::fprintf(stderr, "cannot create clients\n");
    return 1;
  }
  kei::KEIRPCClient unified_rpc(*unified);

  std::vector<std::pair<std::string, std::function<bool(int)>>> modes = {
      {"raw generated stub", [&](int) {
         grpc::ClientContext context;
         context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
         ObserveResponse response;
         return stub->Observe(&context, request, &response).ok();
       }},
      {"KEIRPCClient (grpc)", [&](int) { return (*rpc)->Observe(request).ok(); }},
      {"KEIRPCClient (UnifiedClient)", [&](int) { return unified_rpc.Observe(request).ok(); }},
  };

  // Warm-up: connections, caches.
  for (auto& [name, call] : modes) RunRound(threads, absl::Milliseconds(300), call);

  std::map<std::string, std::vector<double>> throughput;
  std::map<std::string, std::vector<double>> latencies;
  std::map<std::string, int> errors;
  for (int r = 0; r < rounds; ++r) {
    // Rotate which mode goes first, so no mode always follows another.
    for (size_t k = 0; k < modes.size(); ++k) {
      auto& [name, call] = modes[(r + k) % modes.size()];
      RoundResult result = RunRound(threads, absl::Seconds(seconds), call);
      throughput[name].push_back(result.calls_per_second);
      auto& all = latencies[name];
      all.insert(all.end(), result.latencies_us.begin(), result.latencies_us.end());
      errors[name] += result.errors;
    }
  }

  std::printf("unary Observe over gRPC, %d threads, %d rounds x %.1f s, target %s\n", threads,
              rounds, seconds, target.c_str());
  std::printf("%-30s %12s %10s %10s %8s %8s\n", "client", "calls/s", "p50 us", "p99 us",
              "ratio", "errors");
  double baseline = Median(throughput[modes[0].first]);
  for (auto& [name, _] : modes) {
    double median = Median(throughput[name]);
    std::printf("%-30s %12.0f %10.1f %10.1f %8.3f %8d\n", name.c_str(), median,
                Percentile(latencies[name], 0.50), Percentile(latencies[name], 0.99),
                median / baseline, errors[name]);
  }
  int total_errors = 0;
  for (auto& [_, e] : errors) total_errors += e;
  return total_errors == 0 ? 0 : 1;
}
